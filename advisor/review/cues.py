"""The cue families plan review still reads with regular expressions (data tables).

The sentence classifier (``advisor.review.classifier``) decides what each sentence shows.
Three cue families remain, for what a sentence's words say outright and the plan-level
checks need: which sentences state a goal (the goal to restate), which record a tool
already chosen, and which do strategy or requirements work (the order check in
``advisor.review.structure``). ``advisor.review.plan`` compiles them and tags each sentence.
"""

from __future__ import annotations

import re

CUES: dict[str, str] = {
    "goal": (
        r"\b(goals?|objectives?|aims?|vision|mission|ambition|purpose|outcomes?|targets?|we (want"
        r"|aim|intend|hope|plan|expect|aspire|need) to|our aim|will enable|so that|in order to"
        r"|the point of)\b"
    ),
    "tool_chosen": (
        r"\b(have|has|had|already|just)\s+(been\s+)?(chosen|selected|bought|purchased|signed"
        r"|licensed|procured|acquired|picked|decided on|committed to|agreed on)\b|\b(signed"
        r"|purchased|bought|licensed|procured|paid for)\b.{0,60}\b(licen[cs]es?|seats|contract"
        r"|subscription|platform|software|deal|agreement|order)\b|\b(licen[cs]es?|contract"
        r"|subscription|platform|software|system|agreement)\b.{0,30}\b(are|is|were|was|has been"
        r"|have been) (already )?(paid|bought|purchased|signed|procured|in place)\b|\badopt\w* (the"
        r"|our|this) (new )?(platform|tool|system|software|crm|product)|\b(chose|picked|went with"
        r"|are going with|standardi[sz]\w+ on|decision (is|was) made)\b"
    ),
    "strategy_first": (
        r"\b((listed|list|defined|define|agreed|wrote|write|set out|gathered|gather|mapped"
        r"|map|worked out|work out) (what we need|our needs|the needs|needs|requirements)"
        r"|compared (\w+ )?(suppliers|vendors|products|options|tools|systems)|(fitted|fits"
        r"|scored) best|requirements?|strategy|process(es)? (design|mapping|redesign|review)"
        r"|customer journeys?|journey map\w*|business case|define (our|the)|objectives first"
        r"|before (we )?(select|choos|buy|pick|sign|commit)\w*"
        r"|(select|choos|pick|shortlist)\w* .{0,50}\b(after"
        r"|once|based on|against|to fit)\b|vendor[- ]neutral|shortlist\w*|rfp|evaluat\w+ (vendors"
        r"|platforms|tools|options|products)|demos? against)\b"
    ),
}
"""Each cue family by name: one regular expression, matched case-insensitively."""

# Matched on a sentence's own text by the order check (advisor.review.structure): a step
# that buys or sets up the tool, and one that agrees goals or requirements.
TOOL_CHOICE = re.compile(
    r"(?i)\b(buy|bought|purchas\w*|procur\w*|sign\w*|licens\w*|select\w*|choos\w*|chose\w*"
    r"|pick\w*|install\w*|implement\w*|configur\w*|roll\w* out|deploy\w*)\b.{0,60}"
    r"\b(licen[cs]es?|seats|platform|software|system|tool|vendor|crm|contract|subscription"
    r"|salesforce|hubspot|dynamics|zoho|pipedrive)\b"
)
STRATEGY_WORK = re.compile(
    r"(?i)\b(agree\w*|defin\w*|decid\w*|work\w* out|set\w*|writ\w*|wrote|map\w*|gather\w*"
    r"|clarif\w*)\b.{0,50}\b(what (we|the business|it|they)\b.{0,20}\b(want|need|expect)s?"
    r"|goals?|objectives?|requirements?|strategy|purpose|success looks like"
    r"|(is|are|should) (to )?achieve)\b"
)
