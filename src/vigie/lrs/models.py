"""xAPI statements as strict pydantic models: 1.0.3 (Data part, sections 2.2 to 2.4 and 4) and
the few differences of 2.0.0 (IEEE 9274.1.1, sections 4.2 and 5.2).

Why pydantic-core rather than hand-written checks: an LRS validates every statement it
receives, in batches, so validation must run at native speed. Formats (IRI, UUID, mailto,
language tags, timestamps) are regular expressions compiled once by pydantic-core; Python
code only runs for the rules that relate several fields (exactly one agent identifier,
raw score between min and max, interaction components allowed by the interaction type…).

Optional properties default to `MISSING`, not `None`: the specification requires an LRS to
reject a property whose value is `null` (except inside extensions), and a `MISSING` field is
also left out of `model_dump`, so a statement is stored with exactly the properties it had.

Why 2.0.0 models are subclasses (`StatementV2`, `SubStatementV2`, `ContextV2`): a 2.0.0
statement is a 1.0.3 statement plus `context.contextAgents` / `context.contextGroups`, a
`version` that may be 2.0.x, and RFC 3339 timestamps (which may separate date and time by a
space). Overriding those fields keeps every other rule in one place, and a 1.0.3 request still
gets "is not an allowed property here" for the 2.0 properties.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    MISSING,
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

__all__ = [
    "IRI",
    "UUID",
    "VOIDED",
    "Account",
    "Activity",
    "ActivityDefinition",
    "Actor",
    "Agent",
    "Attachment",
    "Context",
    "ContextActivities",
    "ContextAgent",
    "ContextGroup",
    "ContextV2",
    "Group",
    "InteractionComponent",
    "LanguageMap",
    "Result",
    "Score",
    "Statement",
    "StatementRef",
    "StatementV2",
    "SubStatement",
    "SubStatementV2",
    "Timestamp",
    "Verb",
]

VOIDED = "http://adlnet.gov/expapi/verbs/voided"

# Patterns: the messages shown to clients are in `errors.PATTERN_MESSAGES`, keyed by pattern.
IRI_PATTERN = r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$"
MAILTO_PATTERN = r"^mailto:[^@\s]+@[^@\s]+$"
SHA1_PATTERN = r"^[0-9a-fA-F]{40}$"
SHA2_PATTERN = r"^(?:[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
VERSION_PATTERN = r"^1\.0(\.[0-9]+)?$"
VERSION_PATTERN_V2 = r"^[12]\.0(\.[0-9]+)?$"
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+(?:\s*;.*)?$"
# RFC 5646: language[-extlang]|4-8 alpha, script, region, variants, extensions, private use;
# plus the private-use-only and `i-` grandfathered forms.
LANGUAGE_TAG_PATTERN = (
    r"^(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"
    r"(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?"
    r"|[xX](?:-[A-Za-z0-9]{1,8})+|[iI]-[A-Za-z]{2,8})$"
)
_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+\-][0-9]{2}(?::?[0-9]{2})?)$"
TIMESTAMP_PATTERN = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T{_TIME}"
# RFC 3339 (5.6, note) lets a space stand for the T; 2.0.0 timestamps are RFC 3339 ones.
TIMESTAMP_PATTERN_V2 = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ]{_TIME}"
_NUM = r"[0-9]+(?:[.,][0-9]+)?"
DURATION_PATTERN = (
    rf"^P(?:(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
    rf"|{_NUM}W)$"
)


def _check_timestamp(value: str) -> str:
    """The pattern checks the shape; this checks the date exists and the offset is not -00."""
    if value.endswith(("-00", "-0000", "-00:00")):
        raise ValueError("must not use the negative zero offset -00:00 (use Z or +00:00)")
    try:
        moment = datetime.fromisoformat(value.replace(",", "."))
    except ValueError:
        raise ValueError("is not an existing date and time") from None
    try:  # stored, compared and filtered in UTC: 9999-12-31T23:00-05:00 has no UTC instant
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of UTC instants (years 1 to 9999)") from None
    return value


def _check_duration(value: str) -> str:
    """A duration needs at least one component: `P`, `PT` and `P1DT` are not durations."""
    if value in ("P", "PT") or value.endswith("T"):
        raise ValueError("must have at least one component after P or T (e.g. PT1H30M)")
    return value


def _as_list(value: Any) -> Any:
    """contextActivities values may be one Activity object; they are stored as arrays."""
    return [value] if isinstance(value, dict) else value


IRI = Annotated[str, StringConstraints(pattern=IRI_PATTERN)]
UUID = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
Mailto = Annotated[str, StringConstraints(pattern=MAILTO_PATTERN)]
Sha1 = Annotated[str, StringConstraints(pattern=SHA1_PATTERN)]
Sha2 = Annotated[str, StringConstraints(pattern=SHA2_PATTERN)]
LanguageTag = Annotated[str, StringConstraints(pattern=LANGUAGE_TAG_PATTERN)]
Timestamp = Annotated[
    str, StringConstraints(pattern=TIMESTAMP_PATTERN), AfterValidator(_check_timestamp)
]
TimestampV2 = Annotated[
    str, StringConstraints(pattern=TIMESTAMP_PATTERN_V2), AfterValidator(_check_timestamp)
]
Duration = Annotated[
    str, StringConstraints(pattern=DURATION_PATTERN), AfterValidator(_check_duration)
]
Version = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
VersionV2 = Annotated[str, StringConstraints(pattern=VERSION_PATTERN_V2)]
MediaType = Annotated[str, StringConstraints(pattern=MEDIA_TYPE_PATTERN)]
LanguageMap = dict[LanguageTag, str]
Extensions = dict[IRI, Any]
Number = int | float


class _Strict(BaseModel):
    """Unknown properties are rejected and no value is coerced ("1" is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Account(_Strict):
    homePage: IRI
    name: str


_IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


class Agent(_Strict):
    objectType: Literal["Agent"] | MISSING = MISSING
    name: str | MISSING = MISSING
    mbox: Mailto | MISSING = MISSING
    mbox_sha1sum: Sha1 | MISSING = MISSING
    openid: IRI | MISSING = MISSING
    account: Account | MISSING = MISSING

    @model_validator(mode="after")
    def _one_identifier(self) -> Agent:
        count = sum(getattr(self, key) is not MISSING for key in _IFIS)
        if count != 1:
            raise ValueError(
                "an Agent must have exactly one of mbox, mbox_sha1sum, openid, account "
                f"(found {count})"
            )
        return self


class Group(_Strict):
    objectType: Literal["Group"]
    name: str | MISSING = MISSING
    member: list[Agent] | MISSING = MISSING
    mbox: Mailto | MISSING = MISSING
    mbox_sha1sum: Sha1 | MISSING = MISSING
    openid: IRI | MISSING = MISSING
    account: Account | MISSING = MISSING

    @model_validator(mode="after")
    def _identified_or_listed(self) -> Group:
        count = sum(getattr(self, key) is not MISSING for key in _IFIS)
        if count > 1:
            raise ValueError(
                f"a Group may have at most one of mbox, mbox_sha1sum, openid, account "
                f"(found {count})"
            )
        if count == 0 and self.member is MISSING:
            raise ValueError("an anonymous Group (no identifier) must list its member Agents")
        return self


def _actor_tag(value: Any) -> str | None:
    """Union tag from objectType (default Agent); from the class when serialising."""
    if not isinstance(value, dict):
        return type(value).__name__
    kind = value.get("objectType", "Agent")
    return kind if kind in ("Agent", "Group") else None


_AGENT_TYPES = "objectType must be 'Agent' or 'Group' (case-sensitive)"
Actor = Annotated[
    Annotated[Agent, Tag("Agent")] | Annotated[Group, Tag("Group")],
    Discriminator(_actor_tag, custom_error_type="object_type", custom_error_message=_AGENT_TYPES),
]


class Verb(_Strict):
    id: IRI
    display: LanguageMap | MISSING = MISSING


class InteractionComponent(_Strict):
    id: Annotated[str, StringConstraints(min_length=1)]
    description: LanguageMap | MISSING = MISSING


InteractionType = Literal[
    "true-false", "choice", "fill-in", "long-fill-in", "matching", "performance",
    "sequencing", "likert", "numeric", "other",
]
_COMPONENT_LISTS: dict[str, tuple[str, ...]] = {
    "choice": ("choices",), "sequencing": ("choices",), "likert": ("scale",),
    "matching": ("source", "target"), "performance": ("steps",),
}
_ALL_LISTS = ("choices", "scale", "source", "target", "steps")


class ActivityDefinition(_Strict):
    name: LanguageMap | MISSING = MISSING
    description: LanguageMap | MISSING = MISSING
    type: IRI | MISSING = MISSING
    moreInfo: IRI | MISSING = MISSING
    extensions: Extensions | MISSING = MISSING
    interactionType: InteractionType | MISSING = MISSING
    correctResponsesPattern: list[str] | MISSING = MISSING
    choices: list[InteractionComponent] | MISSING = MISSING
    scale: list[InteractionComponent] | MISSING = MISSING
    source: list[InteractionComponent] | MISSING = MISSING
    target: list[InteractionComponent] | MISSING = MISSING
    steps: list[InteractionComponent] | MISSING = MISSING

    @model_validator(mode="after")
    def _interaction(self) -> ActivityDefinition:
        if self.interactionType is MISSING:
            if self.correctResponsesPattern is not MISSING:
                raise ValueError("correctResponsesPattern requires an interactionType")
            present = [key for key in _ALL_LISTS if getattr(self, key) is not MISSING]
            if present:
                raise ValueError(f"{present[0]} requires an interactionType")
            return self
        allowed = _COMPONENT_LISTS.get(self.interactionType, ())
        for key in _ALL_LISTS:
            components = getattr(self, key)
            if components is MISSING:
                continue
            if key not in allowed:
                raise ValueError(
                    f"{key} is not allowed for interactionType '{self.interactionType}'"
                )
            ids = [component.id for component in components]
            if len(set(ids)) != len(ids):
                raise ValueError(f"{key}: interaction component ids must be distinct")
        return self


class Activity(_Strict):
    objectType: Literal["Activity"] | MISSING = MISSING
    id: IRI
    definition: ActivityDefinition | MISSING = MISSING


class StatementRef(_Strict):
    objectType: Literal["StatementRef"]
    id: UUID


class Score(_Strict):
    scaled: Annotated[Number, Field(ge=-1, le=1)] | MISSING = MISSING
    raw: Number | MISSING = MISSING
    min: Number | MISSING = MISSING
    max: Number | MISSING = MISSING

    @model_validator(mode="after")
    def _bounds(self) -> Score:
        low = None if self.min is MISSING else self.min
        high = None if self.max is MISSING else self.max
        if low is not None and high is not None and low > high:
            raise ValueError(f"min ({low}) must not be greater than max ({high})")
        if self.raw is not MISSING:
            if low is not None and self.raw < low:
                raise ValueError(f"raw ({self.raw}) must not be below min ({low})")
            if high is not None and self.raw > high:
                raise ValueError(f"raw ({self.raw}) must not be above max ({high})")
        return self


class Result(_Strict):
    score: Score | MISSING = MISSING
    success: bool | MISSING = MISSING
    completion: bool | MISSING = MISSING
    response: str | MISSING = MISSING
    duration: Duration | MISSING = MISSING
    extensions: Extensions | MISSING = MISSING


ActivityList = Annotated[list[Activity], BeforeValidator(_as_list)]


class ContextActivities(_Strict):
    parent: ActivityList | MISSING = MISSING
    grouping: ActivityList | MISSING = MISSING
    category: ActivityList | MISSING = MISSING
    other: ActivityList | MISSING = MISSING


class Context(_Strict):
    registration: UUID | MISSING = MISSING
    instructor: Actor | MISSING = MISSING
    team: Group | MISSING = MISSING
    contextActivities: ContextActivities | MISSING = MISSING
    revision: str | MISSING = MISSING
    platform: str | MISSING = MISSING
    language: LanguageTag | MISSING = MISSING
    statement: StatementRef | MISSING = MISSING
    extensions: Extensions | MISSING = MISSING


RelevantTypes = Annotated[list[IRI], Field(min_length=1)]


class ContextAgent(_Strict):
    """2.0.0: an Agent taking part in the experience, with the Activity types that qualify
    its role (`relevantTypes`, when given, is a non-empty array of IRIs)."""

    objectType: Literal["contextAgent"]
    agent: Agent
    relevantTypes: RelevantTypes | MISSING = MISSING


class ContextGroup(_Strict):
    """2.0.0: a Group taking part in the experience, with the Activity types of its role."""

    objectType: Literal["contextGroup"]
    group: Group
    relevantTypes: RelevantTypes | MISSING = MISSING


class ContextV2(Context):
    contextAgents: list[ContextAgent] | MISSING = MISSING
    contextGroups: list[ContextGroup] | MISSING = MISSING


class Attachment(_Strict):
    usageType: IRI
    display: LanguageMap
    description: LanguageMap | MISSING = MISSING
    contentType: MediaType
    length: Annotated[int, Field(ge=0)]
    sha2: Sha2
    fileUrl: IRI | MISSING = MISSING


def _object_tag(value: Any) -> str | None:
    """Union tag from objectType (default Activity); from the class when serialising (a
    `SubStatementV2` is tagged SubStatement)."""
    if not isinstance(value, dict):
        return type(value).__name__.removesuffix("V2")
    kind = value.get("objectType", "Activity")
    return kind if kind in _OBJECT_TYPES else None


_OBJECT_TYPES = ("Activity", "Agent", "Group", "StatementRef", "SubStatement")
_OBJECT_TYPE_MESSAGE = (
    "objectType must be one of 'Activity', 'Agent', 'Group', 'StatementRef', 'SubStatement'"
)
_SUB_OBJECT_MESSAGE = (
    "objectType must be one of 'Activity', 'Agent', 'Group', 'StatementRef' "
    "(a SubStatement cannot contain a SubStatement)"
)

_NOT_STATEMENTS = (
    Annotated[Activity, Tag("Activity")]
    | Annotated[Agent, Tag("Agent")]
    | Annotated[Group, Tag("Group")]
    | Annotated[StatementRef, Tag("StatementRef")]
)
_OBJECT_DISCRIMINATOR = Discriminator(
    _object_tag, custom_error_type="object_type", custom_error_message=_OBJECT_TYPE_MESSAGE
)
SubObject = Annotated[
    _NOT_STATEMENTS,
    Discriminator(
        _object_tag, custom_error_type="object_type", custom_error_message=_SUB_OBJECT_MESSAGE
    ),
]


def _check_context(context: Context | MISSING, target: object) -> None:
    """revision and platform describe an Activity: they make no sense for other objects."""
    if context is MISSING or isinstance(target, Activity):
        return
    for key in ("revision", "platform"):
        if getattr(context, key) is not MISSING:
            raise ValueError(f"context.{key} is only allowed when the object is an Activity")


class SubStatement(_Strict):
    objectType: Literal["SubStatement"]
    actor: Actor
    verb: Verb
    object: SubObject
    result: Result | MISSING = MISSING
    context: Context | MISSING = MISSING
    timestamp: Timestamp | MISSING = MISSING
    attachments: list[Attachment] | MISSING = MISSING

    @model_validator(mode="after")
    def _rules(self) -> SubStatement:
        _check_context(self.context, self.object)
        return self


class SubStatementV2(SubStatement):
    context: ContextV2 | MISSING = MISSING
    timestamp: TimestampV2 | MISSING = MISSING


Object = Annotated[
    _NOT_STATEMENTS | Annotated[SubStatement, Tag("SubStatement")], _OBJECT_DISCRIMINATOR
]
ObjectV2 = Annotated[
    _NOT_STATEMENTS | Annotated[SubStatementV2, Tag("SubStatement")], _OBJECT_DISCRIMINATOR
]


def _check_authority(authority: Agent | Group | MISSING) -> None:
    """Data 2.4.9: an authority is an Agent, or an anonymous Group of exactly two Agents (the
    application and the user of a three-legged OAuth)."""
    if not isinstance(authority, Group):
        return
    if any(getattr(authority, key) is not MISSING for key in _IFIS):
        raise ValueError("authority: a Group authority must be anonymous (no identifier)")
    members = [] if authority.member is MISSING else authority.member
    if len(members) != 2:
        raise ValueError(
            f"authority: a Group authority must have exactly two members, not {len(members)}"
        )


class Statement(_Strict):
    id: UUID | MISSING = MISSING
    actor: Actor
    verb: Verb
    object: Object
    result: Result | MISSING = MISSING
    context: Context | MISSING = MISSING
    timestamp: Timestamp | MISSING = MISSING
    stored: Timestamp | MISSING = MISSING
    authority: Actor | MISSING = MISSING
    version: Version | MISSING = MISSING
    attachments: list[Attachment] | MISSING = MISSING

    @model_validator(mode="after")
    def _rules(self) -> Statement:
        _check_context(self.context, self.object)
        _check_authority(self.authority)
        if self.verb.id == VOIDED and not isinstance(self.object, StatementRef):
            raise ValueError("a voiding statement (verb voided) must have a StatementRef object")
        return self


class StatementV2(Statement):
    """A statement received under xAPI 2.0.0: the rules of `Statement` for the fields it keeps."""

    object: ObjectV2
    context: ContextV2 | MISSING = MISSING
    timestamp: TimestampV2 | MISSING = MISSING
    stored: TimestampV2 | MISSING = MISSING
    version: VersionV2 | MISSING = MISSING
