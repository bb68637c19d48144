"""Orders: the subscription engine's tables, purchase orders, package orders and vehicle orders.

Each family has its own module; import models from here (``from orders.models import ...``).
"""

from orders.engine.models import *  # noqa: F401,F403
from orders.package.models import *  # noqa: F401,F403
from orders.purchase.models import *  # noqa: F401,F403
from orders.vehicle.models import *  # noqa: F401,F403
