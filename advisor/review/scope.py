"""Is the pasted text a CRM plan at all? A recipe or an HR policy gets a clear refusal, not
a readiness score beside real plans.

Two signals, both conservative, since refusing a real plan is far worse than reviewing a
recipe: how close the text's nearest sentence comes to any passage of the corpus (cosine,
the same MiniLM vectors the review already computes), and whether the text uses any of
CRM's own vocabulary. A text is refused when its nearest sentence is far from everything
the corpus discusses, or is only middling and the text never names customers, clients,
sales, marketing, loyalty or a CRM. Thresholds were set on the development texts
(``evals/plans/scope/dev.yaml`` and the labelled development plans).
"""

from __future__ import annotations

import re

import numpy as np

from advisor.errors import NotAPlanError

FAR = 0.30  # nearest sentence below this cosine: off-topic, whatever its words
MIDDLING = 0.42  # below this, off-topic unless the text uses CRM's vocabulary
_CRM_TERMS = re.compile(
    r"(?i)\b(crm|customers?|clients?|sales|sell(?:ing)?|marketing|prospects?|leads?|pipeline|"
    r"deals?|opportunit(?:y|ies)|contacts?|accounts?|relationships?|relations|"
    r"loyalty|churn|retention|membership|subscribers?|"
    r"salesforce|hubspot|dynamics|zoho|pipedrive)\b"
)


def check_in_scope(text: str, sentence_vectors: np.ndarray, corpus: np.ndarray) -> None:
    """Raise NotAPlanError when ``text`` does not read as a CRM plan.

    ``sentence_vectors`` (n, d) and ``corpus`` (m, d) are unit-length embeddings of the
    plan's sentences and of the corpus passages, so their dot products are cosines.
    """
    if not len(sentence_vectors) or not len(corpus):
        return
    nearest = float((sentence_vectors @ corpus.T).max())
    if nearest < FAR or (nearest < MIDDLING and not _CRM_TERMS.search(text)):
        raise NotAPlanError(
            "this doesn't read as a CRM plan: nothing in it is about customers, sales, "
            "service or a CRM system. Paste the plan's goals, scope, owner, budget and "
            "rollout, or ask a question instead"
        )
