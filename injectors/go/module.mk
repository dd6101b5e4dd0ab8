# injectors/go: (to be filled)
