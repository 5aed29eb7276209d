"""Marshmallow schemas: the shapes of requests and answers, and the OpenAPI document's source.
One module per resource; every name is importable from here."""

from pilar.api.schemas.auth import TokenAnswer, TokenRequest
from pilar.api.schemas.beneficiaries import (
    BeneficiaryChanges,
    BeneficiaryCorrectionIn,
    BeneficiaryIn,
    BeneficiaryList,
    BeneficiaryOut,
    CaseLink,
    ConsentIn,
    ConsentOut,
    NikSearchIn,
)
from pilar.api.schemas.cases import (
    AidIn,
    AidOut,
    AssessmentIn,
    AssessmentOut,
    AssignmentIn,
    CaseIn,
    CaseOut,
    CaseQuery,
    ClosureIn,
    DesilIn,
    FollowUpCompletionIn,
    FollowUpIn,
    FollowUpOut,
    LawfulBasisIn,
    ReferralIn,
    ReferralOut,
    ReferralSendIn,
    ReopeningOut,
)
from pilar.api.schemas.common import (
    BoundedInt,
    Empty,
    Input,
    Instant,
    PageInfo,
    Problem,
    ReasonIn,
    StrictInteger,
    ViewPosition,
    WriteAnswer,
)
from pilar.api.schemas.reference import VocabulariesOut, WilayahOut

__all__ = [
    "AidIn", "AidOut", "AssessmentIn", "AssessmentOut", "AssignmentIn", "BeneficiaryChanges",
    "BeneficiaryCorrectionIn", "BeneficiaryIn", "BeneficiaryList", "BeneficiaryOut", "CaseIn", "CaseLink",
    "CaseOut", "CaseQuery", "ClosureIn", "ConsentIn", "ConsentOut", "DesilIn", "Empty", "FollowUpCompletionIn",
    "FollowUpIn", "FollowUpOut", "LawfulBasisIn", "NikSearchIn", "PageInfo", "Problem", "ReasonIn", "ReferralIn", "ReferralOut",
    "ReferralSendIn", "ReopeningOut", "StrictInteger", "TokenAnswer", "TokenRequest",
    "ViewPosition", "WriteAnswer", "BoundedInt", "Input", "Instant", "VocabulariesOut", "WilayahOut",
]
