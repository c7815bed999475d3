"""The ``blue-green`` strategy: switch a Service's selector (and an Istio route) back to the other colour."""
