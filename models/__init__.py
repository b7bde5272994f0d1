"""SQLAlchemy models of the metered API backend.

Importing this package registers all six tables on `Base.metadata`, which is what
the Alembic environment compares against.
"""

from models.api_key import ApiKey, ApiKeyStatus
from models.base import NAMING_CONVENTION, Base
from models.budget import Budget, BudgetPeriod
from models.payment import Payment, PaymentStatus
from models.policy import Policy, PolicyKind
from models.request import APIRequest, RequestOutcome
from models.user import User, UserStatus

__all__ = [
    "NAMING_CONVENTION",
    "APIRequest",
    "ApiKey",
    "ApiKeyStatus",
    "Base",
    "Budget",
    "BudgetPeriod",
    "Payment",
    "PaymentStatus",
    "Policy",
    "PolicyKind",
    "RequestOutcome",
    "User",
    "UserStatus",
]
