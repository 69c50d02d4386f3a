"""The recruiting funnel: market, strategies, simulation, controls, ledger and telemetry."""
