# a Python project
