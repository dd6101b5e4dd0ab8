# analyzer: (to be filled)
