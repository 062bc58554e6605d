"""The benchmark harness behind `manage.py bench` (see bench/README.md).

`harness` holds the operation registry and the timing rules, `operations` the operations
measured, `scratch` the throw-away databases they run in.
"""
