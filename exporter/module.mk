# exporter: (to be filled)
