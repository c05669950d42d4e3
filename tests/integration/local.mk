# Integration tests: each starts the built weft on 127.0.0.1 and talks to it.
TESTS += $(WEFT_INTEGRATION_TESTS)
WEFT_INTEGRATION_TESTS =
EXTRA_DIST += $(WEFT_INTEGRATION_TESTS)
