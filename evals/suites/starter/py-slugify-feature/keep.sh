python3 -m unittest -q test_text_utils
