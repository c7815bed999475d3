"""What the cluster says about one blue-green service, read together, and the refusal to delete a live colour."""

from __future__ import annotations

from dataclasses import dataclass

from bot.providers.kubernetes.api import Obj
from bot.providers.kubernetes.blue_green.options import BlueGreen


@dataclass(frozen=True)
class BlueGreenState:
    """What the cluster says about one blue-green service, read together.

    Traffic goes where the Service's selector *and* the VirtualService's colour routes say; when they
    disagree (a switch cut short between its two writes), the service is half-switched."""

    options: BlueGreen
    service: Obj  # the Kubernetes Service
    live: str  # the colour its selector picks
    deployments: dict[str, Obj | None]  # colour -> Deployment (None: missing)
    virtual_service: Obj | None
    routed: str | None = None  # the colour the mesh sends its ordinary traffic to (None: no colour route)
    routed_all: frozenset[str] = frozenset()  # every colour some mesh traffic goes to (routes and mirrors)

    def on(self, colour: str) -> bool:
        """All traffic goes to ``colour``: the Service selects it and no mesh route goes elsewhere."""
        return self.live == colour and self.routed_all <= {colour}

    @property
    def split(self) -> str | None:
        """``Service selects blue, mesh routes green`` when the two disagree; None when they agree."""
        if self.on(self.live):
            return None
        mesh = [c for c in (self.routed, *sorted(self.routed_all)) if c]
        return f"Service selects {self.live}, mesh routes {' and '.join(dict.fromkeys(mesh))}"

    def serving(self, colour: str) -> str | None:
        """Why ``colour`` gets traffic now (None: it gets none)."""
        key, name = self.options.selector_key, self.service["metadata"]["name"]
        if self.live == colour:
            return f"Service {name} selects {key}={colour}"
        if colour in self.routed_all:
            return f"VirtualService {self.options.virtual_service} sends traffic to subset {colour}"
        return None


