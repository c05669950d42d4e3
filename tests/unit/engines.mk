# unit tests: engines
