# injectors/net: (to be filled)
