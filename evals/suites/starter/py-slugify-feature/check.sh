python3 -m unittest -q test_hidden_slugify
