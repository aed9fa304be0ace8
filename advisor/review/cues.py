"""The cue families plan review looks for: regular expressions, one per idea (data tables).

A cue is a family of phrasings for one idea (a dated target, a pilot, an owner from IT, a
budget left unfunded). ``advisor.review.plan`` compiles them and tags each plan sentence.
"""

from __future__ import annotations

import re

_MONTH = (
    r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t|tember)?|"
    r"oct(ober)?|nov(ember)?|dec(ember)?"
)
_UNIT = r"days?|weeks?|months?|years?|quarters?"
_PEOPLE = (
    r"customers?|clients?|tenants?|residents?|guests?|members?|patients?|students?|donors?"
    r"|citizens?|passengers?|users?|policyholders?|shoppers?|buyers?"
)
_SITES = (
    r"users?|staff|employees|countries|regions|offices|branches|sites|stores|teams|departments"
    r"|agents|hotels|dealers|channels|depots|warehouses|plants|practices|clinics|schools|shops"
    r"|outlets|locations|divisions|markets|brands|dealerships|showrooms|consultants|advisers"
    r"|reps|colleagues"
)
_GOLIVE = (
    r"go[- ]?live|going live|goes live|launch\w*|roll[- ]?out|cut[- ]?over|switch\w*( over)? to"
    r"|switch[- ]?over|mov\w+ (over |across )?to"
)

# Case-insensitive cue families. Each names an idea, not a test plan's wording.
CUES: dict[str, str] = {
    "target": r"\d+(?:[.,]\d+)?\s?(%|per ?cent|percent|pts?\b|points?\b|percentage points?)"
    r"|\bfrom\s+[£$€]?\d[\d.,]*\s*%?\s+to\s+[£$€]?\d"
    r"|\b(to|under|below|above|at least|at most)\s+[£$€]?\d[\d.,]*\s*(%|days?|hours?|minutes?)"
    r"|\b(double|halve|triple)\b",
    "money": r"[£$€]\s?\d|\b\d[\d.,]*\s?(k|m|bn|million|thousand)\b"
    r"|\b(budget|funding|investment|spend) of\b|\bfunded\b|\bbudget (is|has been) (approved|agreed"
    r"|ring[- ]fenced|allocated|set)",
    "people": r"\b\d+(\.\d+)?\s?(fte|full[- ]time|people|staff|analysts?|developers?|consultants?"
    r"|admins?|administrators?|trainers?|heads?|super[- ]?users?|champions?)\b"
    r"|\b(dedicated|seconded|secondment|backfill\w*|full[- ]time|ring[- ]fenced|hire|hiring"
    r"|recruit\w*|contractors?|freed up|relieved of|protected time|days? (a|per) week)\b",
    "timeframe": rf"\b(by|before|within|in|over|after|until|from|end of|during)\s+(the\s+)?"
    rf"(end of\s+)?(q[1-4]|h[12]|20\d\d|{_MONTH}|\d+\s+({_UNIT})|(first|next|second|third)\s+"
    rf"(\d+\s+)?({_UNIT}|year|half|quarter))\b|\b(week|month|day|quarter|year)\s+\d+\b"
    rf"|\bq[1-4]\b|\b(90|60|30|100)[- ]day\b|\b\d+[- ]month\b",
    "baseline": r"\b(baselines?|benchmark\w*|currently|today('s)?|current (rate|level|figure|score"
    r"|average)|up from|down from|starting (point|figure)|last year('s)?|this year's)\b"
    r"|\bfrom\s+[£$€]?\d",
    "kpi": r"\b(kpis?|metrics?|measures?|measured|measuring|measurement|track(ed|ing)?"
    r"|dashboards?|scorecards?|roi|return on investment|targets?|nps|csat|churn rate|win rate"
    r"|conversion rate|retention rate|benefits? (review|realisation|realization|tracking))\b",
    "cadence": r"\b(weekly|fortnightly|monthly|quarterly|annually|every (week|month|quarter))\b",
    "vague_benefit": r"\b(improv\w+|enhanc\w+|better|boost\w*|increas\w+|optimi[sz]\w+"
    r"|streamlin\w+|maximi[sz]\w+|strengthen\w*|deepen\w*|more (efficient|effective)"
    r"|greater|richer|insights?|visibility|grow\w*)\b",
    "outcome": r"\b(customers?|clients?|guests?|members?|donors?|students?|satisf\w+|loyal\w*"
    r"|sales|revenue|retention|experience|insights?|relationships?|service|efficien\w+|profit\w*"
    r"|growth|conversion|engagement|visibility|information|results?|performance)\b",
    "goal": r"\b(goals?|objectives?|aims?|vision|mission|ambition|purpose|outcomes?|targets?"
    r"|we (want|aim|intend|hope|plan|expect|aspire|need) to|our aim|will enable|so that"
    r"|in order to|the point of)\b",
    "broad_scope": r"\b(every|all|entire|whole|each)\s+(of\s+(our|the)\s+)?(\w+\s+)?(department"
    r"|division|business unit|team|channel|touch[- ]?point|region|country|countr(y|ies)|office"
    r"|branch|market|product|process|function|customer|interaction|stakeholder|line of business"
    r"|guest|client|member|user|employee|colleague|donor|student|patient|site|store|hotel"
    r"|part of the (business|company|organi[sz]ation))s?\b|\b(company|organi[sz]ation|enterprise"
    r"|group|business|firm)[- ]wide\b|\bend[- ]to[- ]end\b|\b360\b|\bomni[- ]?channel\b"
    r"|\beverything\b|\bacross the (whole|entire) (company|business|group|organi[sz]ation)\b",
    "grand_vision": r"\b((client|customer|patient|guest|member|tenant|resident|student|citizen)"
    r"[- ](cent(red|ered|ric)|focused|led|first)|(to be|become|becoming|be) (the|a) (most|best"
    r"|leading|number one|first choice|go-to)|transform\w*|revolutioni[sz]\w+|world[- ]class"
    r"|best[- ]in[- ]class"
    r"|market[- ]leading|industry[- ]leading|customer[- ]centric\w*|delight\w*|exceptional"
    r"|seamless|next[- ]generation|reinvent\w*|game[- ]chang\w+|leader in|number one|no\. 1"
    r"|the best|truly|fully)\b",
    "first_step": r"\b(first (step|phase|stage|release|milestone|objective|priority|wave|\d+ days)"
    r"|phase (1|one|i)\b|step (1|one)\b|release (1|one)\b|initial(ly)?|to (start|begin) with"
    r"|starting with|we will start|begin(ning)? with|in the first (\d+|few|thirty|sixty|ninety)"
    r"|(first|next) (30|60|90) days|week 1|month 1)\b",
    "pilot": r"\b(pilot\w*|phased?|phases|waves?|stages?|staged|stagger\w*|incremental\w*"
    r"|iterative\w*|mvp|minimum viable|proof of concept|poc|trial\w*|release [0-9]"
    r"|one (region|team|branch|country|office|site|store|unit|segment|division|department)"
    r"( first| at a time)?|(first|single) (region|team|branch|country|office|site|store|segment"
    r"|division|department)|go/no[- ]go|gradual\w*|expand\w* (to|into)|extend\w* to|then (to|the)"
    r" (rest|remaining|other)|(team|region|branch|country|office|site|store|unit|segment|division"
    r"|department|desk|plant|hotels?|pod|group) first|\w+ (months?|weeks?) later|one at a time"
    r"|(region|country|branch|site|store) by (region|country|branch|site|store))\b",
    "big_bang": r"\b(all at once|at the same time|simultaneous\w*|same (day|weekend|date|night)"
    r"|single (go[- ]?live|cut[- ]?over|launch|release|switch[- ]?over|weekend)|big[- ]bang"
    r"|day one|overnight|in one go|one go[- ]live|one (weekend|day|date) for|switch\w* off the old"
    r"|turn\w* off the old|no parallel run|everyone (moves|switches|goes)|cut[- ]?over weekend"
    r"|(becomes?|go(es)?|will be|is) (read[- ]only|locked)|from day one"
    r"|(switch|mov|migrat)\w* (everyone|everybody|all (staff|users|of us|teams))( over| across)?)\b"
    rf"|\b(every|all)\s+(\w+\s+){{0,3}}({_SITES})\b.{{0,60}}\b({_GOLIVE}"
    rf"|move|migrat\w*|live on|start using)\b"
    rf"|\b({_GOLIVE})\b.{{0,40}}\b(across|in|for|to) (all|every|the whole|the entire)\b"
    rf"|\b({_GOLIVE})\b.{{0,20}}\b(everywhere|company[- ]wide|group[- ]wide|nationwide|globally"
    rf"|worldwide)\b",
    "rollout": rf"\b({_GOLIVE}|deploy\w*|implementation|go live|live)\b",
    "tool": r"\b(salesforce|hubspot|dynamics( 365)?|sap|oracle|siebel|zoho|pipedrive|sugarcrm"
    r"|freshsales|zendesk|pega|netsuite|insightly|monday\.com|platform|software|system|tool"
    r"|package|solution|application|licen[cs]es?|seats|vendor|suite|subscription)\b",
    "tool_chosen": r"\b(have|has|had|already|just)\s+(been\s+)?(chosen|selected|bought|purchased"
    r"|signed|licensed|procured|acquired|picked|decided on|committed to|agreed on)\b"
    r"|\b(signed|purchased|bought|licensed|procured|paid for)\b.{0,60}\b(licen[cs]es?|seats"
    r"|contract|subscription|platform|software|deal|agreement|order)\b"
    r"|\b(licen[cs]es?|contract|subscription|platform|software|system|agreement)\b.{0,30}\b(are|is"
    r"|were|was|has been|have been) (already )?(paid|bought|purchased|signed|procured|in place)\b"
    r"|\badopt\w* (the|our|this) (new )?(platform|tool|system|software|crm|product)|\b(chose"
    r"|picked|went with|are going with"
    r"|standardi[sz]\w+ on|decision (is|was) made)\b",
    "tool_will_fix": r"\b(system|platform|software|tool|crm|technology|salesforce|hubspot"
    r"|dynamics)\b.{0,40}\b(will|should|is going to)\s+(fix|solve|deliver|give us|provide"
    r"|transform|automatically|drive|ensure|sort out|take care)\b",
    "strategy_first": r"\b((listed|list|defined|define|agreed|wrote|write|set out|gathered|gather"
    r"|mapped|map|worked out|work out) (what we need|our needs|the needs|needs|requirements)"
    r"|compared (\w+ )?(suppliers|vendors|products|options|tools|systems)|(fitted|fits|scored) best"
    r"|requirements?|strategy|process(es)? (design|mapping|redesign|review)"
    r"|customer journeys?|journey map\w*|business case|define (our|the)|objectives first"
    r"|before (we )?(select|choos|buy|pick|sign|commit)\w*|(select|choos|pick|shortlist)\w*"
    r" .{0,50}\b(after|once|based on|against|to fit)\b|vendor[- ]neutral|shortlist\w*|rfp"
    r"|evaluat\w+ (vendors|platforms|tools|options|products)|demos? against)\b",
    "generic": r"\b(adopt\w* (the|their|this) (\w+ ){0,2}(model|approach|programme|program"
    r"|framework"
    r"|playbook|method) (in full|wholesale|as is|as-is|unchanged)|used by (the )?(top|leading|big"
    r"|biggest|other|larger)|modell?ed on|do what [\w.]+( and [\w.]+)? do(es)?|if it works for"
    r"|best practices?|industry standard|out[- ]of[- ]the[- ]box|off[- ]the[- ]shelf"
    r"|copy\w*|replicat\w+|mirror\w*|emulat\w+|clone|templates?|playbook|same (approach|model"
    r"|processes|process|setup|set-up|way) as|what (works|worked|has worked) (for|at|in)"
    r"|(just )?like (amazon|apple|google|our competitors?|competitors?|our rivals?|the market"
    r" leader)|standard (vendor )?process\w*|vendor'?s? (standard|default|recommended)"
    r"|(default|standard) configuration|as recommended by)\b",
    "insight": r"\b(our (own )?(customers|clients|members|students|guests|donors)'? (needs|problems"
    r"|complaints|feedback|pain points|journeys?|reasons)|(customer|client|member|guest|donor)"
    r" (research|interviews?|insight|feedback|surveys?|segments?|segmentation|journeys?)"
    r"|segment\w*|interview\w*|survey\w*|focus groups?|pain points?|differentiat\w+"
    r"|specific to (us|our)|unique to|why (customers|clients) (leave|churn|buy|stay))\b",
    "data_good": r"\b(data (quality|cleans\w*|clean[- ]?up|cleaning|audit|standards?|owners?"
    r"|stewards?|governance|validation|profil\w+|hygiene|dictionary|rules)|cleans\w+|de-?dup\w*"
    r"|(merg|remov|match|fix|resolv)\w* (the |any |all )?duplicates?|duplicates? (\w+ )?(merged"
    r"|removed|resolved|fixed|cleaned)|audit\w* (of )?(the )?(\w+ ){0,2}(records|data|accounts)"
    r"|validat\w+|accuracy"
    r"|accurate|completeness|consisten\w+|golden record"
    r"|master data|mdm|match(ing)? rules|mandatory fields?|data entry (rules|standards))\b",
    "data_bad": r"\b(as (they|it) (stands?|are|is)|exactly as (they|it) (are|is)"
    r"|(tidy|clean|fix|sort)"
    r"\w*( it| them)?( up)? as (we|they|people|users) (go|use)|later phase will|as[- ]is"
    r"|unchanged|without (cleaning|checking|review\w*|cleans\w+)"
    r"|clean\w* (it |them |up )?later|fix\w* (it |the data )?later|lift[- ]and[- ]shift"
    r"|(import|load|migrat\w*|move|copy|bring|dump)\w* (over )?(all|every|everything|across all"
    r"|our existing|the existing|existing|the old)\b.{0,50}\b(as[- ]is|unchanged|straight|directly"
    r"|without|then|and (clean|fix|sort))|data is (fine|good enough|ok|clean|in good shape)"
    r"|no time (for|to) (clean|cleans)|(clean|cleans\w+) (is|are) (not|out of) (needed|scope))\b",
    "data_move": r"\b(migrat\w+|import\w*|load\w*|transfer\w*|(mov|cop|bring|carr|port)\w*"
    r" (it |them"
    r" )?(over|across|into)|lift[- ]and[- ]shift)\b",
    "data_mention": r"\b(data|records?|contacts?|migrat\w+|import\w*|spreadsheets?|databases?"
    r"|fields)\b",
    "integration_good": r"\b(integrat\w+|interfaces?|apis?|connect(ed|ing|ors?|s)?|sync\w*"
    r"|link(ed|ing)? (to|with|into)|single (customer )?view|one view of|shared (customer )?records?"
    r"|data warehouse|middleware|feed\w*\b.{0,40}\binto|flow\w* (from|into|between)"
    r"|pull\w* (in )?from)\b",
    "integration_bad": r"\b((stay|stays|remain|remains|kept|keep|run|be) (separate|apart"
    r"|independent|unconnected|disconnected|isolated)|stand[- ]?alone"
    r"|separate (system|database|tool|instance|crm)s?"
    r"|silo\w*|(its|their) own ([\w-]+ ){0,2}(system|database|crm|tool|spreadsheet|instance|list)s?"
    r"|no integration|out of scope:?.{0,30}\bintegrat\w+|(dealt with|handled|managed) separately"
    r"|integration\w* (is |are |will be )?(out of scope|deferred|later|not (needed|required"
    r"|in scope|planned))|re-?key\w*|manual(ly)? (export|import|cop|upload|transfer)\w*"
    r"|double[- ]entry|(won't|will not|do not|don't) (need to )?(connect|integrate|link))\b",
    "other_systems": r"\b(erp|billing|finance (system|platform)|accounts (system|package)|support"
    r" desk|help ?desk|ticketing|call cent(re|er)|contact cent(re|er)|telephony|website|e-?commerce"
    r"|web ?shop|online shop|marketing automation|email (platform|tool)|policy (admin\w*|system)"
    r"|core banking|booking (system|engine)|point of sale|pos|dealer management|student records"
    r"|loyalty (system|platform|scheme))\b",
    "resources_bad": r"\b(no (additional|extra|new|separate|dedicated|incremental) (budget|funding"
    r"|money|headcount|staff|people|resources?|hires?)|within (the |our )?(existing|current)"
    r" (budget|resources|headcount|teams?)|existing (staff|team|people|resources|teams) (will|can"
    r"|should)|absorb\w*|spare time|on top of (their|the|normal|day|existing)|alongside (their"
    r"|normal|day)|in addition to (their|normal|existing|current) (roles?|duties|jobs?|work)"
    r"|volunteers?|best[- ]efforts?|as (time|workload|capacity|diaries) (allows|permits)"
    r"|in (your|their"
    r"|our) own time|(does not|doesn't|do not|don't) have (a |any )?(dedicated |separate )?budget"
    r"|no budget for|when (they|people) (can|have time)"
    r"|(zero|minimal|limited|no) budget|budget:?\s*(tbd|tbc|to be (confirmed|agreed|decided"
    r"|determined)|n/?a|none)|unfunded|free of charge|at no (extra )?cost|no[- ]cost)\b",
    "training": r"\b(training|coaching|onboarding|change management|enablement|workshops?)\b",
    "it_framing": r"\b(technology (project|implementation|upgrade|installation|rollout)|technical"
    r" (project|implementation|delivery|upgrade)|system (implementation|installation|upgrade"
    r"|replacement|project)|software (implementation|installation|upgrade|project|rollout)"
    r"|install\w* (the )?(new )?(crm|system|software|platform)|on time and (on|within) budget"
    r"|delivered on time|end of (support|life)|(replace|replacing|replacement of) (the |our )?(old "
    r"|legacy |current |existing )?(crm|system|database|platform)|(ict|it|technology|digital)"
    r" strategy)\b",
    "business_word": r"\b(sales|marketing|service|claims|business|commercial|operations"
    r"|departments?|managers|users|front[- ]line|staff)\b",
    "business_passive": r"\b(consulted|kept informed|stakeholders?|attend\w* (uat|user acceptance|"
    r"training|demos?)|sign[- ]?off (on )?(the )?requirements|provide (their )?requirements"
    r"|as needed|when required|on request)\b",
    "slogan": rf"\b(({_PEOPLE}) (are |is )?at the (heart|centre|center) of|puts? ({_PEOPLE}) first"
    rf"|({_PEOPLE}) (always )?come first|"
    r"customer is (king|everything|our top priority|at the heart)"
    r"|customers? (always )?(come )?first|put(ting)? (the )?customers? first"
    r"|customers? at the (heart|centre|center)"
    r"|customer[- ]obsess\w*|customer[- ]first|customers are our (priority|top priority|focus))\b",
    "exec_passive_any": r"\b((won't|will not|can't|cannot) be (joining|attending|involved)"
    r"|(get|receive|see) a (short |brief )?(summary|update) at the end|(bonus\w*|incentives?"
    r"|commission) (will )?(stay|remain|are unchanged|unchanged|continue to be)"
    r"|(is|are) our (number one|top|first|no\.? ?1) priority)\b",
    "exec_passive": r"\b(management|leadership|the board|executives?|senior (team|leaders"
    r"|management)|directors|the ceo|the md|exec team)\b.{0,50}\b(kept informed|updated|informed"
    r"|briefed|copied|notified|in principle|endorse\w*|bless\w*|rubber[- ]stamp\w*|sign\w* off"
    r"|too busy|will not attend|won't attend|no time)\b"
    r"|\b(no|minimal|limited|little) (time|involvement|input|attendance"
    r"|availability) from (the )?(executives?|leadership|board|management"
    r"|directors|senior)|\bdelegat\w+ (to|the (project|programme|program)|sponsorship|ownership"
    r"|responsibility)|\bon delegation from|\b(receive|see|get|be sent) (a|an|the) (close-?out"
    r"|closure"
    r"|final|summary|end-of-project|closing) (report|update|note)"
    r"|\bupdate at (project )?(close|closure"
    r"|the end)",
    "exec_active": r"\b(ceo|md|managing director|chief executive|board|executive sponsor|sponsor"
    r"|coo|cco|leadership team|senior (team|leaders)|director)\b.{0,60}\b(chair\w*|attend\w*"
    r"|lead\w*|review\w*|use[sd]?|using|champion\w*|model\w*|visibl\w+|weekly|fortnightly|monthly"
    r"|sits on|personally|in person|will open|joins?)\b|\b(incentives?|bonus(es)?|compensation"
    r"|commission|appraisals?|performance (reviews?|objectives))\b.{0,60}\b(customer|crm|adoption"
    r"|retention|satisfaction|nps|usage)\b|\b(customer|crm|adoption|retention|satisfaction|nps)"
    r"\b.{0,60}\b(incentives?|bonus(es)?|compensation|appraisals?|performance objectives)\b",
    "politics_bad": r"\b(each|every) (department|team|division|region|unit|business unit|bu"
    r"|country|brand|branch|office)\b.{0,40}\b(own|owns|keep|keeps|manage|manages|control"
    r"|controls|maintain|maintains|hold|holds|run|runs)\b.{0,20}\b(its|their) own\b"
    r"|\b(?<!no )(?<!avoid )(?<!without )(dispute\w*|disagree\w*|argument\w*|tension\w*"
    r"|conflict\w*|turf|tug[- ]of[- ]war"
    r"|fight\w*|rivalr\w+)\b.{0,40}\b(over|about|between|on|with)\b"
    r"|\bwho owns (the )?(customer|account|relationship|client|data|contact)s?\b.{0,60}\b(later"
    r"|tbd|tbc|to be (decided|agreed|resolved|confirmed|settled)|open|unresolved|not (yet )?"
    r"(decided|agreed|settled))\b|\b(refuse\w*|declin\w+|won't|will not|reluctant|unwilling"
    r"|not willing"
    r"|do not want|don't want) to share\b"
    r"|\b(sales|marketing|service|branches|regions|brokers?|agents?|dealers?|account managers?)\b"
    r".{0,20}\b(own|owns|control|controls|keep|keeps)\b.{0,10}\b(the|their) (customers?|accounts?"
    r"|relationships?|clients?|contacts?)\b.{0,40}\b(while|but|and|whereas)\b",
    "politics_more": r"\b((remain|stay)\w* with the (originating|owning|original|existing"
    r"|introducing)"
    r"|permission to (contact|approach|call|speak)|should not approach|who (leads|owns)\b.{0,60}"
    r"\b(revisited|decided later|next year|tbc|tbd)|(not yet|yet to|cannot|can't|could not"
    r"|couldn't) agree\w* (on )?who"
    r" (leads"
    r"|owns|handles|looks after)|case by case|(only|sole) point of contact|stay\w* with whichever"
    r"|(its|their) own (\w+ ){0,2}(contact|customer|client|tenant|account) lists?)\b",
    "politics_good": r"\b(governance|(data|account|customer|record|contact) ownership (rules?"
    r"|polic\w+|model|agreed|agreement|is agreed|will be agreed)|single (owner|point of"
    r" accountability)|shared (definitions?|rules|customer records?|ownership|view)|steering"
    r" (committee|group|board)|cross[- ]functional|arbitrat\w+|raci|account (rules|ownership)"
    r"|agreed (rules|definitions|ownership)|owned jointly|joint(ly)? owned|one customer record)\b",
    "after_golive": r"\b(after (go[- ]?live|launch|rollout|roll-out|implementation|cut[- ]?over"
    r"|we go live|the (pilot|system) goes live|each (release|wave|stage))"
    r"|post[- ](launch|go[- ]?live|implementation|rollout|pilot)|ongoing|continuous\w*"
    r"|business as usual|bau|roadmap|backlog"
    r"|release (cycle|train|cadence|plan)|hypercare|refresher|cent(re|er) of excellence|health"
    r" checks?|(adoption|usage|login) (tracking|reviews?|metrics|reports?|rates?)|(support|admin"
    r"|crm) team (will )?(remain|stay|continue)|run (and|&) (improve|maintain)|benefits? review"
    r"|year two|second year|thereafter|long[- ]term (ownership|support|owner)|permanent (team|role"
    r"|owner)|keep improving|every quarter after)\b",
    "project_end": r"\b((project|programme|program) (is|will be) (complete|over|finished|closed)"
    r"|(project|programme|program) (will )?(close|closes|closed|end|ends"
    r"|finish\w*|complete\w*"
    r"|wrap\w* up|is done|is over)|disband\w*|(team|consultants?|contractors?) (will )?(return"
    r"|go back|roll off|be released|leave|move on)|hand\w* (it )?over (to (it|support|bau)) and"
    r" (close|move on)|job (is )?done|no further (budget|work|investment|changes)|mission"
    r" accomplished|then (we are|we're) done|and (we are|we're) done|no (configuration|development"
    r"|change|further) budget|only (break[- ]fix|incident)|(team"
    r"|project team) (then )?disbands?)\b",
    "golive": rf"\b({_GOLIVE}|go live|live|handover|complete|completion|delivered)\b",
}
_OWN = (
    r"(own(s|ed|er|ers|ership)?|lead(s|ing)?|led|run(s|ning)?|responsib\w+|accountab\w+"
    r"|in charge|manag(e|es|ed|ing)|driv(e|es|en|ing)|sponsor\w*|chair(s|ed|ing)?|head(s|ed)?"
    r"|project (manager|lead|director)|steer\w*|deliver(s|ed|ing)?|reports? to)\b"
)
_IT_WHO = (
    r"((?-i:\bIT\b|\bICT\b|\bI\.T\.)|\b(cio|cto|chief (information|technology|digital) officer"
    r"|head of (infrastructure|it|ict|technology|digital|systems|applications|information)"
    r"|technology (team|department|function|group|director|division)|is department|information"
    r" (systems|services|technology)|systems team|infrastructure team|it services))"
)
_BIZ_WHO = (
    r"\b(sales|marketing|service|customer (service|experience|operations)|commercial|operations"
    r"|coo|ceo|cco|cmo|cfo|chief (customer|executive|operating|commercial|marketing|revenue"
    r"|experience) officer|managing director|general manager|crmo|crm officer|vp|vice president"
    r"|head of (?!infrastructure|it\b|ict|technology|digital|systems|applications|information)\w+"
    r"|director of \w+|(?<!it )(?<!ict )\w+ director|board member|executive sponsor|the business"
    r"|business (owner|lead|sponsor|units?))\b"
)
_NEAR = r"\W+(?:[\w'’-]+\W+){0,4}?"
_BY = r"\s*(?:\bby\b|:|-|–)\W*(?:[\w'’-]+\W+){0,2}?"  # "led by", "Owner:", "Sponsor –"
CUES["owner_it"] = rf"{_IT_WHO}{_NEAR}{_OWN}|\b{_OWN}{_BY}{_IT_WHO}"
CUES["owner_business"] = rf"{_BIZ_WHO}{_NEAR}{_OWN}|\b{_OWN}{_BY}{_BIZ_WHO}"
# "the ICT Service" or "IT Services team" is IT, whatever business word it contains.
IT_UNIT = re.compile(
    rf"{_IT_WHO}(\s+(service|services|team|department|function|group|division|unit|applications))*",
    re.I,
)
