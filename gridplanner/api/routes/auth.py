"""Log in and out (web sessions in a cookie), who am I; plan rollback (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from gridplanner.plans import rollback as plan_rollback
from gridplanner.api.dependencies import SessionDep
from gridplanner.auth.accounts import authenticate
from gridplanner.api.security import PrincipalDep, _limiter, require_role
from gridplanner.auth.principal import Principal
from gridplanner.auth.sessions import COOKIE, close_session, open_session
from gridplanner.settings import get_settings
from gridplanner.store import models as m

router = APIRouter(tags=["accounts"])
BAD_LOGIN = "wrong user name or password"


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64, examples=["planner"])
    password: str = Field(min_length=1, max_length=256, examples=["gridplanner-demo"])


class Me(BaseModel):
    username: str = Field(examples=["planner"])
    role: str = Field(examples=["planner"], description="admin, planner, viewer or staff")
    districts: list[str] = Field(examples=[["330106"]], description="the districts a planner may edit")


@router.post("/auth/login", response_model=Me, responses={401: {"description": BAD_LOGIN, "content": {"application/json": {"example": {"detail": BAD_LOGIN}}}}, 429: {"description": "too many attempts"}})
def login(body: Login, request: Request, response: Response, session: SessionDep) -> Me:
    """Open a web session: sets the HttpOnly cookie ``gp_session``."""
    # Guessing passwords is limited per name and per address, whatever the rate limit of logged-in users.
    client = request.client.host if request.client else "?"
    _limiter(request).check(f"login:{body.username}")
    _limiter(request).check(f"login-from:{client}")
    user = authenticate(session, body.username, body.password)
    if user is None:
        raise HTTPException(401, BAD_LOGIN)
    settings = get_settings()
    token, expires = open_session(session, user, settings.session_hours)
    response.set_cookie(
        COOKIE, token, max_age=int(settings.session_hours * 3600), expires=expires, path="/", httponly=True, samesite="lax", secure=settings.session_cookie_secure
    )
    return Me(username=user.username, role=user.role, districts=list(user.districts or []))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, session: SessionDep) -> Response:
    """End the web session (its row is deleted); harmless without one."""
    token = request.cookies.get(COOKIE)
    if token:
        close_session(session, token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/auth/me", response_model=Me, responses={401: {"description": "not logged in"}})
def me(principal: PrincipalDep) -> Me:
    if principal.is_key:
        return Me(username=principal.name, role="api-key:" + ",".join(principal.scopes), districts=[])
    return Me(username=principal.name, role=principal.role or "", districts=list(principal.districts))


class RolledBack(BaseModel):
    id: int
    name: str
    version: int = Field(examples=[4], description="the new version number")
    rolled_back_to: int = Field(examples=[2], description="the version whose grids are published again")


@router.post(
    "/plans/{plan_id}/rollback",
    response_model=RolledBack,
    tags=["plans"],
    responses={404: {"description": "no such plan"}, 409: {"description": "not an archived plan"}},
)
def rollback(plan_id: int, session: SessionDep, principal: Annotated[Principal, Depends(require_role("admin"))]) -> RolledBack:
    """Publish again the grids of an earlier (archived) plan, as a new version; codes and lineage are settled
    as for any publication and the rollback is audited."""
    try:
        plan = plan_rollback.rollback(session, plan_id=plan_id, actor=principal.actor)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    target = session.get(m.GridPlan, plan_id)
    return RolledBack(id=plan.id, name=plan.name, version=plan.version, rolled_back_to=target.version)
