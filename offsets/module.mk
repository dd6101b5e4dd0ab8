# offsets: (to be filled)
