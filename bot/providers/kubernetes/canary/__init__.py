"""The ``canary`` strategy: step the canary's share of traffic down to 0, checking the signals at each step."""
