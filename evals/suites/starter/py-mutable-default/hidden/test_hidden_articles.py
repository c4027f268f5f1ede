import unittest

from articles import Article


class TestIndependentTags(unittest.TestCase):
    def test_articles_do_not_share_tags(self):
        Article("one").tag("secret")
        self.assertEqual(Article("two").tags, [])

    def test_given_list_is_not_shared_either(self):
        shared = ["a"]
        Article("one", tags=shared).tag("b")
        self.assertEqual(Article("two", tags=shared).tags, ["a"])
