# tools/: scripts installed beside the programs.
