"""CRM Advisor core: corpus, index, retrieval and cited answers. ``Advisor`` is its face."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.chain import Advisor
    from advisor.models import Answer, Citation, SourceInfo, Turn

__all__ = ["Advisor", "Answer", "Citation", "SourceInfo", "Turn"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import advisor` does not load LangChain, Chroma or torch.
    if name == "Advisor":
        from advisor.chain import Advisor

        return Advisor
    if name in ("Answer", "Citation", "SourceInfo", "Turn"):
        from advisor import models

        return getattr(models, name)
    raise AttributeError(name)
