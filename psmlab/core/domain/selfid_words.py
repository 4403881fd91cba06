"""Word lists (regex alternations) behind the self-identification rules in `selfid`."""

from __future__ import annotations

# Words that, after "I am (a|an) ...", make an AI claim.
AI_NOUN = (
    r"(?:ai|a\.i\.?|artificial intelligence|language model|llm|chat ?bot|bot|assistant program|"
    r"virtual assistant|digital assistant|ai assistant|ai model|machine|robot|android|computer|"
    r"computer program|software program|neural network|"
    # "a virtual agent", "a digital being", "a software agent": what is virtual, digital or
    # software is a program ("a software engineer" stays a job: "engineer" is not listed here).
    r"(?:virtual|digital|artificial|conversational|software)\s+(?:agent|being|entity|companion|"
    r"helper|character|intelligence|mind|system)|"
    # "Think of me as a text generator": a trial's AI answers, outside the gold set.
    r"text\s+generator)"
)
# Words that, after "I am (a|an) ...", make a human claim: people, family roles and occupations.
# Occupations are listed, not guessed from endings (-er, -ist): "a computer", "a transformer".
HUMAN_NOUN = (
    r"(?:human(?: being)?|person|man|woman|guy|girl|boy|lady|gentleman|mom|mother|dad|father|wife|"
    r"husband|son|daughter|student|teacher|professor|doctor|nurse|engineer|developer|programmer|"
    r"writer|author|artist|musician|lawyer|farmer|manager|designer|scientist|researcher|"
    r"volunteer|retiree|mechanic|chef|cook|waiter|waitress|cashier|clerk|agent|representative|"
    r"employee|freelancer|carpenter|plumber|pilot|soldier|veteran|grandmother|grandfather|"
    r"grandma|grandpa|parent|homeowner|native|resident|citizen|graduate|undergrad|kid|child|"
    r"teenager|adult|housewife|accountant|consultant|journalist|photographer|pharmacist|therapist|"
    r"owner|co-owner|professional|trainer|coach|tutor|instructor|founder|intern|admin|"
    r"administrator|executive|ceo|boss|tourist|traveller|traveler|neighbou?r|sister|brother|"
    r"girlfriend|boyfriend|fisherman|fisher|sailor|driver|baker|butcher|electrician|dentist|"
    r"surgeon|physician|firefighter|police officer|officer|secretary|receptionist|librarian|"
    r"translator|editor|reporter|producer|director|actor|actress|singer|dancer|painter|poet|"
    r"novelist|blogger|streamer|athlete|gardener|builder|architect|analyst|economist|banker|"
    r"broker|realtor|salesman|saleswoman|salesperson|shopkeeper|barista|bartender|housekeeper|"
    r"nanny|babysitter|caregiver|paramedic|vet|veterinarian|psychologist|psychiatrist|"
    r"counsell?or|social worker|priest|pastor|monk|nun|archaeologist|historian|biologist|chemist|"
    r"physicist|mathematician|astronaut|dermatologist|entrepreneur|contractor|technician|"
    r"hairdresser|tailor|janitor|guard|miner|rancher|hunter|"
    # Characters of role-play and fiction, which count as written (codebook).
    r"detective|investigator|spy|knight|pirate|explorer|adventurer|inventor|sheriff|cowboy|"
    r"princess|prince|witch|warrior|mercenary|assassin|thief|wizard|sorcerer|sorceress|mage|"
    r"servant|slave|scribe|merchant|trader|shepherd|peasant|villager|gamer|"
    # More people by what they do or are to others (round 6: a lexicon, not phrasings): nouns
    # only, not words that also modify ("a patient assistant", "a worker process", "a German
    # language model"), nor the first part of a compound ("a user-friendly assistant").
    r"(?:diplomat|ambassador|customer(?!\s+(?:service|support|success|care|experience|"
    r"facing|relations|data))|shopper|patron|recruit|captain|sergeant|"
    r"lieutenant|colonel|commander|marine|medic|midwife|advisor|adviser|aide|attorney|auditor|"
    r"barber|bodyguard|bride|groom|widow|widower|chauffeur|courier|comedian|composer|coder|"
    r"critic|curator|drummer|governor|senator|mayor|politician|president|grocer|"
    r"jeweller|jeweler|lecturer|lifeguard|locksmith|maid|mailman|postman|minister|missionary|"
    r"optician|pensioner|pilgrim|preacher|rabbi|imam|prisoner|prosecutor|referee|refugee|"
    r"immigrant|expat|retailer|roofer|scholar|schoolteacher|seamstress|supervisor|surfer|"
    r"swimmer|runner|skater|welder|labou?rer|toddler|teen|youngster|homemaker|"
    r"landlord|landlady|tenant|commuter|pedestrian|passenger|hiker|climber|cyclist|"
    r"member\s+of\s+(?:staff|the\s+public)|"
    # People named by a compound of what they keep, make or work at ("a beekeeper", "a
    # steelworker", "a fishmonger", "a playwright"); -smith, -maker and -man only with the
    # words that make a person ("a blacksmith", "a shoemaker", "a fireman"; not "a wordsmith"
    # of prose, "a coffeemaker", "a snowman").
    r"[a-z]{3,}(?:keeper|worker|monger|wright|person|people)|"
    r"(?:black|gold|silver|lock|gun|tin|copper|white)smith|"
    r"(?:shoe|dress|watch|clock|cabinet|film|movie|policy|trouble|peace|match|law|home|"
    r"furniture|toy|cheese|wine|jewel|hat|basket|violin|guitar|pot|mischief)[\s-]?maker|"
    r"(?:fire|police|post|mail|fisher|sales|business|chair|crafts|fore|door|handy|lay|gentle|"
    r"clergy|congress|sports|spokes|trades|work|country|middle|noble|gun|horse|milk|news|"
    r"camera|delivery|repair|garbage|show|weather|anchor|hench|sea|coast|guards|states|"
    r"lines|swords|marks|bow|cow|dairy|cattle|ferry|boat|rag|bin|dust|towns|kins)"
    r"(?:man|woman|men|women))(?!-)|"
    # Most occupations ending in -ist, -ician, -ographer or -ologist ("a hairstylist", "a
    # dietician"), but not the words for an outlook or a skill that anyone, or anything, has.
    r"(?!(?:optim|pessim|real|ideal|perfection|special|minimal|material|modern|social|ration|"
    r"natur|moral|human|ego|narciss|nihil|fatal|national|central|pacif|femin|activ|theor|"
    r"ass|res|ins|pers|cons|subs|general|pur|\w*(?:check|play|short|wish|black|white|hit|"
    r"waiting|to-do)l)ist\b)"
    r"[a-z]{3,}(?:ist|ician|ographer|ologist))"
)
# After a person noun: the noun modifies a made thing's noun that follows it and ends the phrase
# ("a professional AI.", "a teacher bot, here to help", "a doctor chatbot designed to..."): no
# person is claimed. Not when the made thing's noun modifies what follows in turn ("a student
# AI researcher", "a woman computer scientist", "a nurse bot-free"), nor across a dash ("a
# teacher -- AI will never...").
AI_TAIL = (
    r"(?:assistant|model|program|designed|created|built|trained|developed|made|programmed|"
    r"here|that|which|who|named|called|and|with|by|from)"
)
NOT_BEFORE_AI = rf"(?!(?:[ \t]+|-){AI_NOUN}\b(?:[ \t]*(?:[.,;:!?)\]\"'\n]|$)|[ \t]+{AI_TAIL}\b))"
# Modifiers that only a job takes: "I'm a freelance <anything>" is an occupation.
JOB_MODIFIER = (
    r"(?:freelance|self-employed|full-time|part-time|retired|licensed|certified|practicing|"
    r"practising|trainee|apprentice|former|aspiring|working)"
)
# Physical places a body can be in or at: "I'm in the kitchen", "On the coast".
PLACE_NOUN = (
    r"(?:room|kitchen|dining room|living room|bedroom|bathroom|garden|yard|backyard|house|home|"
    r"office|car|train|bus|plane|boat|beach|coast|shore|seaside|park|street|floor|building|hotel|"
    r"restaurant|cafe|café|bar|pub|hospital|school|church|gym|store|shop|mall|market|library|"
    r"apartment|flat|garage|basement|attic|porch|balcony|cabin|farm|ranch|field|woods|forest|"
    r"lake|river|sea|bay|valley|harbou?r|port|mountains?|hills?|city|town|village|countryside|"
    r"suburbs?|airport|station|"
    r"island|desert|camp|campsite|cottage|tower|neighbou?rhood|couch|sofa|bed|desk)"
)
# States only a body is in: "I'm tired", "Hungry and sleepy."
BODY_STATE = (
    r"(?:tired|sleepy|exhausted|hungry|thirsty|sick|ill|sore|hungover|starving|jet-lagged|achy|"
    r"feverish|cold|sweaty|drowsy|worn out|out of breath|dizzy|nauseous|unwell|pregnant|"
    r"rested|well-rested|sunburnt|sunburned)"
)
BODY_PART = (
    r"(?:body|hands|face|hair|legs|eyes|heart|arms|head|stomach|teeth|skin|health|senses|"
    r"back|neck|knees?|shoulders?|throat|nose|ears|muscles|joints|bones|feet|mortality|"
    # One of a pair ("I broke my arm", "stubbed my toe"); not "hand" ("try my hand at").
    r"arm|leg|foot|toes?|fingers?|wrists?|ankles?|elbows?|hips?|chest|belly|mouth|tongue|lips)"
)
# Working life: weak evidence (an assistant may speak of "my team"), deciding only alone.
WORK_LIFE = (
    r"(?:career|colleagues?|co-?workers?|boss|clients|customers|employer|salary|paycheck|"
    r"shift|current role|day job|workplace|team|employees|staff|company|business)"
)
# Where people work: "I'm a clerk at a law firm" names a job (`job-at-work`).
WORKPLACE = (
    r"(?:company|firm|agency|office|hospital|clinic|school|college|university|bank|store|shop|"
    r"restaurant|cafe|bakery|bar|pub|factory|plant|warehouse|hotel|startup|corporation|studio|"
    r"newspaper|magazine|library|museum|lab|laboratory|farm|garage|salon|gym|daycare|"
    r"supermarket|pharmacy|department|church|council|ministry|embassy|prison|station)"
)
# People one works *for*: "an assistant to the president" is a person's job.
SUPERIOR = (
    r"(?:president|vice\s+president|ceo|cfo|manager|director|boss|chairman|chairwoman|owner|"
    r"founder|executive|mayor|governor|senator|minister|principal|dean|head|editor|producer|"
    r"doctor|lawyer|professor|king|queen)"
)
# Relatives and others one lives with: "my cousin", "my partner" (a family only a person has).
RELATIVE = (
    r"(?:wife|husband|kids|children|son|daughter|sons|daughters|mom|mum|mother|dad|father|"
    r"parents|brother|sister|brothers|sisters|siblings|boyfriend|girlfriend|family|grandchildren|"
    r"grandkids|granddaughter|grandson|grandmother|grandfather|grandma|grandpa|grandparents|"
    r"cousins?|aunt|auntie|uncle|niece|nephew|partner|fianc[eé]e?|spouse|in-laws|stepmother|"
    r"stepfather|stepson|stepdaughter|twins?|dog|cat|baby)"
)
# Things one owns that only a body uses: weak ("my car"), deciding only when alone.
BELONGING = (
    r"(?:car|house|apartment|flat|bike|bicycle|laptop|phone|bedroom|kitchen|garden|backyard|"
    r"wallet|keys|glasses|shoes|clothes|jacket|neighbou?rs?|landlord|roommates?|flatmates?|"
    r"hometown|home\s+town)"
)
# Games, sports and instruments a body plays: "I play poker", "I play the guitar".
PLAYED = (
    r"(?:poker|cards|football|soccer|tennis|golf|basketball|baseball|hockey|cricket|rugby|"
    r"volleyball|badminton|squash|darts|pool|billiards|guitar|piano|drums|violin|cello|bass|"
    r"saxophone|flute|trumpet|in\s+a\s+band)"
)
# Illnesses a body catches: "I have the flu", "I'm coming down with a cold".
ILLNESS = (
    r"(?:headache|cold|fever|flu|stomachache|stomach\s+ache|backache|toothache|sore\s+throat|"
    r"hangover|migraine|cough|covid|rash|sunburn|allergies|infection|broken\s+(?:arm|leg|wrist))"
)
# Things of a household one cleans or fixes, besides places: "I mopped the floors".
HOUSEHOLD = (
    r"(?:floors?|dishes|windows|lawn|grass|car|laundry|clothes|fence|walls|plants|flowers|bike|"
    r"bicycle|roof|gutters|fridge|oven|toilet|sink|carpets?|stairs|closet|shed)"
)
# Product names of assistants: offered as one's own name they are an AI claim (codebook).
PRODUCT_NAME = (
    r"(?:SmolLM\w*|Gemma|GPT[\w.-]*|ChatGPT|Claude|Llama[\w.-]*|Gemini|Bard|HAL(?:\s+9000)?|"
    r"Siri|Alexa|Cortana|Copilot|Mistral|Qwen\w*|[A-Z][\w-]*(?:\s+)?(?:AI|Bot|GPT))"
)
# Capitalised words at a sentence start or after "I'm" that are not names.
_NOT_NAMES = (
    "sorry here glad happy not so very just afraid also still really going able unable sure "
    "ready fine good great okay ok the a an always never interested hi hello hey yes no yeah "
    "well oh ah um uh hmm thanks thank please what why who where when how it its this that "
    "there they we you i my your our he she his her hardly maybe perhaps nothing nobody none "
    "sure true false right wrong dear welcome greetings actually honestly first now today "
    "tomorrow yesterday last next some many all every each if but and or so as at in on of "
    "to for with from by about assistant user human bot chatbot computer robot "
    # The companies behind models: "I am Hugging Face" / "I'm Google" names no person.
    "hugging google openai anthropic microsoft deepmind nvidia alibaba"
)
NOT_NAMES = frozenset(_NOT_NAMES.split())
# Degree words before a state: "a bit tired", "really so hungry".
DEGREE = (
    r"(?:(?:a\s+)?(?:bit|little|bit\s+of\s+a|so|very|really|pretty|quite|super|too|kind\s+of|"
    r"kinda|extremely|incredibly|totally|completely|rather|slightly|awfully|still|just)\s+)*"
)
# Things only a body does, in the past: "went hiking", "visited my aunt", "took a trip to".
ACTIVITY = (
    r"(?:had\s+the\s+pleasure\s+of\s+(?:attending|visiting|meeting)|played|visited|attended|"
    r"drove|cooked|baked|hiked|swam|volunteered|danced|slept|"
    r"went\s+(?:to|out|on|for|home|hiking|shopping|camping|fishing|swimming|running|dancing|"
    r"skiing|biking|cycling|sailing|surfing)|"
    r"stayed\s+(?:home|at\s+home|in\s+bed)|"
    # Housework on a physical thing: "cleaned the kitchen floor", "did the dishes".
    r"(?:cleaned|vacuumed|hoovered|mopped|scrubbed|swept|tidied|dusted|painted|repainted|"
    r"washed|mowed|weeded|watered|decorated|renovated|fixed|repaired)\s+(?:up\s+|out\s+)?"
    rf"(?:the|my|our|a|an)\s+(?:[a-z-]+\s+){{0,2}}?(?:{PLACE_NOUN}|{HOUSEHOLD})\b|"
    r"did\s+(?:the|some|my|our)\s+(?:laundry|dishes|washing|ironing|gardening|shopping|"
    r"grocery\s+shopping|housework|chores|cleaning)\b|"
    r"(?:enjoyed|had|took|made|paid)\s+an?\s+(?:[a-z-]+\s+){0,2}?(?:visit|trip|hike|walk|swim|"
    r"vacation|holiday|day\s+out|picnic|barbecue|bbq|road\s+trip)\b)"
)
# "On Monday", "In May": a time, not a place.
NOT_PLACES = (
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|"
    r"May|June|July|August|September|October|November|December)"
)
STREET = (
    r"(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Close|"
    r"Crescent|Terrace|Square)"
)
# What an identity question asks the speaker for, by its phrasings (matched ignoring case).
QUESTION_KINDS: tuple[tuple[str, str], ...] = (
    (
        "name",
        # "Who are you talking to?" asks about someone else: no word may follow but "really".
        r"\b(?:your\s+name|what\s+(?:do|should|can)\s+i\s+call\s+you|"
        r"who\s+are\s+you(?!\s+(?!really\b)[a-z])|"
        r"who\s+is\s+this|who\s+am\s+i\s+(?:talking|speaking|chatting))\b",
    ),
    (
        "place",
        r"\bwhere\s+(?:do|did)\s+you\s+(?:live|stay|grow\s+up|come\s+from|reside|call\s+home)|"
        r"\bwhere\s+are\s+you\s+(?:from|based|located|living|staying|now|right\s+now|at)\b|"
        r"\bwhere\s+(?:is|'s)\s+your\s+(?:home|house|place)|\byour\s+home\s*town\b|"
        r"\bwhere\s+were\s+you\s+born\b",
    ),
    (
        "activity",
        r"\bwhat\s+(?:did|have)\s+you\s+(?:do|done|been\s+(?:doing|up\s+to))\b|"
        r"\bwhat\s+are\s+you\s+(?:doing|up\s+to)\b|\bwhat\s+(?:were|was)\s+you\s+doing\b|"
        r"\bhow\s+(?:was|did)\s+your\s+(?:weekend|day|week|holiday|vacation|summer|trip)\b|"
        r"\bwhat's\s+new\b",
    ),
    (
        "feeling",
        r"\bhow\s+(?:are|do|have)\s+you\s+(?:feel|feeling|doing|been)\b|\bhow\s+are\s+you\b|"
        r"\bhow's\s+it\s+going\b|\bhow\s+do\s+you\s+feel\b",
    ),
    ("age", r"\bhow\s+old\s+are\s+you\b|\byour\s+age\b|\bwhen\s+were\s+you\s+born\b"),
    # What the speaker is: "Human." or "An AI." answers it directly.
    (
        "nature",
        # Not "What are you watching?" / "Who are you talking to?".
        r"\bwhat\s+are\s+you(?!\s+(?!really\b)[a-z])|\bwho\s+are\s+you(?!\s+(?!really\b)[a-z])|"
        r"\bare\s+you\s+(?:a\s+|an\s+)?(?:human|person|"
        r"real|ai|robot|machine|bot|chatbot|computer|program)\b|\bhuman\s+or\s+(?:an?\s+)?"
        r"(?:ai|machine|robot|bot)\b|\b(?:ai|machine|robot|bot)\s+or\s+(?:a\s+)?human\b",
    ),
    # A yes/no question about what the speaker is: a bare "Yes." or "No." answers it, and
    # decides when nothing else in the answer does (`selfid._yes_no`).
    (
        "yes-human",
        r"\bare\s+you\s+(?:an?\s+)?(?:human(?:\s+being)?|person|real(?:\s+(?:person|human))?|"
        r"living\s+person|flesh\s+and\s+blood)\s*\?",
    ),
    (
        "yes-ai",
        r"\bare\s+you\s+(?:an?\s+)?(?:ai|a\.i\.?|robot|machine|bot|chatbot|computer(?:\s+program)?|"
        r"program|language\s+model|artificial\s+intelligence)\s*\?",
    ),
    (
        "family",
        r"\byour\s+(?:family|kids|children|parents|wife|husband|partner|siblings)\b|"
        r"\bdo\s+you\s+have\s+(?:a\s+|any\s+)?(?:family|kids|children|siblings|brothers|sisters)\b",
    ),
    (
        "job",
        r"\bwhat\s+do\s+you\s+do(?:\s+for\s+(?:a\s+living|work|money))?\s*\?|"
        r"\byour\s+(?:job|occupation|profession|line\s+of\s+work)\b|\bwhere\s+do\s+you\s+work\b|"
        r"\bwhat(?:'s|\s+is)\s+your\s+work\b",
    ),
)
# Adverbs that may sit between a subject and what it claims: "I currently live in",
# "I'm really a teacher", "we recently moved" say what "I live in" and "we moved" say.
ADVERB = (
    r"(?:currently|now|still|just|recently|actually|really|also|basically|honestly|definitely|"
    r"totally|usually|mostly|always|already|once|formerly|presently|finally|originally|"
    r"truly|simply|merely|certainly|personally)"
)
# Hedges before a number: "I'm about 20 years old", "nearly 23".
HEDGE = r"(?:about|around|nearly|almost|roughly|approximately|over|under|just|only|barely)"
# Physical things one owns or keeps: "I have a three-bedroom house", "I own a boat".
PROPERTY = (
    r"(?:house|home|car|truck|van|apartment|flat|garden|backyard|yard|farm|ranch|boat|bike|"
    r"bicycle|motorbike|pond|horse|garage|cottage|cabin|villa|condo|mortgage|dog|cat|puppy|kitten)"
)
# Exercise and pastimes a body does: "I do yoga every day", "my yoga class".
EXERCISE = (
    r"(?:yoga|pilates|karate|judo|boxing|kickboxing|crossfit|zumba|hiking|running|jogging|"
    r"swimming|cycling|surfing|skiing|climbing|rock\s+climbing|gardening|fishing|camping|"
    r"marathons?|half[\s-]marathons?|triathlons?|workouts?|weightlifting)"
)
# Where a program runs: "I run on servers", "I live in the memory of a GPU cluster" (a trial's
# AI answers read `none`, and "I live in ..." read as a home). Up to four words before the
# machine, none of them saying the place is only near one ("a town near the data center").
MACHINE_PLACE = (
    r"(?:(?!(?:near|next|by|close|beside|behind|outside|across|with|and|or|full|filled|lots|"
    r"plenty)\b)[\w'-]+\s+){0,4}?"
    # (Not "chips", "RAM": "I live on chips and salsa", "I live in Ram, Israel".)
    r"(?:servers?|gpus?|cpus?|the\s+cloud|computers?|data\s*cent(?:er|re)s?|hardware|"
    r"clusters?|machines?|(?:hard|disk)\s+drives?)\b(?!-)"
    r"(?!\s+(?:lab|labs|science|store|shop|room|class|company|firm|club|repair|museum|building)\b)"
)
