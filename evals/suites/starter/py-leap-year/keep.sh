python3 -m unittest -q test_calendar_math
