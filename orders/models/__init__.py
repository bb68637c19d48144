"""Orders: the subscription engine's tables, purchase orders, package orders and vehicle orders.

Each family has its own module; import models from here (``from orders.models import ...``).
"""

from orders.models.engine import *  # noqa: F401,F403
from orders.models.package import *  # noqa: F401,F403
from orders.models.purchase import *  # noqa: F401,F403
from orders.models.vehicle import *  # noqa: F401,F403
