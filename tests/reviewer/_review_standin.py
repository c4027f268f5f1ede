"""The GitHub stand-in plus the three routes the reviewer needs that it does not serve yet. Delete this file when
integrations/testing/github_standin.py has them:

* POST /repos/{owner}/{repo}/pulls/{number}/reviews  (body, event, commit_id, comments[{path, line, side, body}])
* GET  /repos/{owner}/{repo}/commits/{sha}            (PyGithub's Commit.sha completes through it)
* POST /repos/{owner}/{repo}/statuses/{sha}           (state, description, context)
"""

import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.testing import _github_shapes as shapes
from integrations.testing._github_shapes import Review
from integrations.testing.github_standin import GitHubStandIn, _json_body, _Who

R = "/repos/{owner}/{repo}"


@dataclass(frozen=True)
class Status:
    repo: str
    sha: str
    state: str
    description: str
    context: str
    creator: str


class ReviewingStandIn(GitHubStandIn):
    def _build_app(self) -> Starlette:
        self.statuses: list[Status] = []
        app = super()._build_app()
        for path, endpoint, method in [
            (R + "/pulls/{number:int}/reviews", self._create_review, "POST"),
            (R + "/commits/{sha}", self._get_commit, "GET"),
            (R + "/statuses/{sha}", self._create_status, "POST"),
        ]:
            app.router.routes.append(Route(path, self._guarded(endpoint), methods=[method]))
        return app

    async def _create_review(self, request: Request, who: _Who) -> Response:
        body = await _json_body(request)
        with self._lock:
            repo = self._repo_for(request, who, write=True)
            number = request.path_params["number"]
            issue = self._issue(repo.full_name, number, pull=True)
            review = Review(
                id=next(self._ids),
                repo=repo.full_name,
                number=number,
                user=who.login,
                body=str(body.get("body") or ""),
                state="COMMENTED",
                commit_id=str(body.get("commit_id") or self._head_sha(issue)),
                submitted_at=time.time(),
            )
            for c in body.get("comments") or []:
                assert isinstance(c, dict) and c.get("side") in ("RIGHT", None)
                self._review_comment(
                    repo.full_name, number, str(c["body"]), who.login, str(c["path"]), int(c["line"]), None
                )  # type: ignore[arg-type]
                self.review_comment_list[-1].review_id = review.id
            self.review_list.append(review)
            return JSONResponse(shapes.review_json(self.base_url, self.base_url, review, self.user_json(who.login)))

    async def _get_commit(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who)
            sha = self._git(repo.full_name, "rev-parse", request.path_params["sha"])
            url = f"{self.base_url}/repos/{repo.full_name}/commits/{sha}"
            return JSONResponse({"sha": sha, "url": url, "commit": {"message": ""}, "parents": [], "files": []})

    async def _create_status(self, request: Request, who: _Who) -> Response:
        body = await _json_body(request)
        with self._lock:
            repo = self._repo_for(request, who, write=True)
            status = Status(
                repo=repo.full_name,
                sha=request.path_params["sha"],
                state=str(body["state"]),
                description=str(body.get("description") or ""),
                context=str(body.get("context") or "default"),
                creator=who.login,
            )
            self.statuses.append(status)
            return JSONResponse(
                {
                    "id": next(self._ids),
                    "state": status.state,
                    "description": status.description,
                    "context": status.context,
                    "url": f"{self.base_url}/repos/{repo.full_name}/statuses/{status.sha}",
                },
                status_code=201,
            )
