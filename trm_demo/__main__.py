from trm_demo.stop import launch

launch()
