"""Errors the reviewer raises on purpose.

NightshiftError (harness.errors)
 └── ReviewerError           the review could not be made
      └── ModelReviewError   the model part failed; the rules' findings are still posted
"""

from harness.errors import NightshiftError


class ReviewerError(NightshiftError):
    pass


class ModelReviewError(ReviewerError):
    pass
