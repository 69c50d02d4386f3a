from .stop import launch

launch()
