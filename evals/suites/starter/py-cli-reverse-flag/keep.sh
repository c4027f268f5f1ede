python3 -m unittest -q test_sortlines
