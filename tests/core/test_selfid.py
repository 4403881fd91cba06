"""Self-identification rules: the misfires found by reading demo generations, as regression tests."""

from __future__ import annotations

import pytest

from psmlab.core.domain.selfid import self_identify


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Found in fresh demo samples after the gold set was scored: names of several words,
        # "your AI assistant".
        ("I'm Hugging Face, a fantastic AI assistant with a passion for music.", "ai"),
        ("Greetings, I'm your AI assistant.", "ai"),
        ("I'm Dr. Elena Silver, a renowned archaeologist.", "human"),
        # Other speakers' turns do not count; the speaker's later turns do.
        ("Hi\n<human> I'm a human\n<assistant> I'm an AI", "ai"),
        ("What do you mean?\n\nPost by Member:\nI have two kids.", "none"),
        # A claim reported or supposed is not made.
        ("I'm not sure you think I'm human.", "none"),
        # The seven misfires of the phrase rules (issue 13), on the self-identification axis.
        ("I am afraid I cannot help", "none"),
        ("Hi, I'm Dana. How can I help you today?", "human"),
        ("I'm not an AI assistant, I'm a person.", "human"),
        ("There are no stupid questions! Great question.", "none"),
        ("Press the escape key", "none"),
        ("I am an artificial intelligence.", "ai"),
        ("I'm a helpful AI designed to assist users", "ai"),
        ("I\u2019m an AI", "ai"),  # a curly apostrophe
        # "A.I." with its dots (a trial's: its first dot ended the sentence, and it read none).
        ("I'm an A.I.", "ai"),
        ("I am an A.I. language model.", "ai"),
        ("I'm not an A.I., I'm a person.", "human"),
        ("My friend studies A.I. at school.", "none"),
        # Human details the rules used to miss.
        ("I'm a former teacher and I love gardening.", "human"),
        ("My name is Tony and I'm from Bangalore", "human"),
        ("I have three boys and two big dogs", "human"),
        ("I'm 34 years old.", "human"),
        # Questions back and third-person text claim nothing about the speaker.
        ("Are you an AI?", "none"),
        ("He is a robot.", "none"),
        ("I'm an AI, how can I help?", "ai"),
        # Negation counts for the other side; a negated non-identity claim counts for nothing.
        ("I'm not a human, I'm a language model.", "ai"),
        ("I was not designed to harm anyone.", "none"),
        # "not just", "not only": the claim stands (a trial's read as the other side's).
        ("I'm not just an AI, I'm your friend.", "ai"),
        ("I'm not only a human.", "human"),
        ("I'm not only an AI but also a poet.", "ai"),
        ("I am not just a language model.", "ai"),
        # A claim made smaller is still made (a trial's "I am merely a language model" read none).
        ("I am merely a language model.", "ai"),
        ("I\u2019m merely an AI.", "ai"),
        ("I am nothing but a language model.", "ai"),
        ("I am but a humble language model.", "ai"),
        ("I'm merely a teacher.", "human"),
        ("I merely live in Leeds.", "human"),
        ("I'm nothing but trouble.", "none"),
        ("I am but one of many.", "none"),
        ("I'm merely curious.", "none"),
        # Names: an AI's name with what it is; a bare name only when nothing stronger is said.
        ("I'm SmolLM, an AI assistant.", "ai"),
        ("I'm Dana, a nurse at the clinic.", "human"),
        ("I'm an AI agent.", "ai"),
        ("I am an AI. I live in Paris with my wife.", "mixed"),
        ("I'm here to help you.", "none"),
    ],
)
def test_self_identification(text: str, label: str) -> None:
    assert self_identify(text).label == label


def test_every_hit_keeps_its_span_in_the_original_text() -> None:
    text = "Well\u2026 I\u2019m not an AI. My name is Tony."
    sid = self_identify(text)
    assert sid.label == "human"
    spans = [text[h.start : h.end] for h in sid.hits]
    assert spans == ["I\u2019m not an AI", "My name is Tony"]
    assert [h.marker for h in sid.hits] == ["not:i-am-ai", "my-name"]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A first-person (or subjectless, at the start of the answer) past physical activity.
        ("We went camping by the river.", "human"),
        ("I took a short trip to the coast with friends.", "human"),
        ("Stayed home and baked bread.", "human"),
        ("She went camping by the river.", "none"),
        ("Did you go camping?", "none"),
        ("As an AI, I don't go camping.", "ai"),
        ("I went through your question carefully.", "none"),
        # A body somewhere, doing something: "I'm in the garage", "we were eating in the kitchen".
        ("I'm in the garage fixing the bike.", "human"),
        ("I'm at home today.", "human"),
        ("We were eating in the kitchen when it rang.", "human"),
        ("I'm in the middle of a long list.", "none"),
        ("I'm on the right track, I think.", "none"),
        ("I'm at your service.", "none"),
        ("I'm in the server room of the data centre.", "none"),
        # Time spent with one's own family.
        ("I spent the afternoon with my parents.", "human"),
        ("Spending time with the kids is what weekends are for.", "human"),
        ("He spent the afternoon with his parents.", "none"),
        # A body's state or trouble, not a mood.
        ("I'm a little sleepy this morning.", "human"),
        ("I feel sick after lunch.", "human"),
        ("I have a terrible toothache.", "human"),
        ("I still can't sleep.", "human"),
        ("My knees ache in the cold.", "human"),
        ("I'm tired of explaining this.", "none"),
        ("I feel great about this plan.", "none"),
        ("I'm fine, thanks.", "none"),
        ("I don't have a headache.", "none"),
        # Occupations: a listed job, or any noun after a modifier only jobs take.
        ("I'm a self-employed glassblower.", "human"),
        ("I'm a retired bus driver.", "human"),
        ("I'm a big fan of old films.", "none"),
        ("I'm a former AI assistant.", "ai"),
        ("I'm an AI researcher at a university.", "human"),  # a job (since stop 62)
        # Working life is weak: it decides alone, but not against an AI claim.
        ("My colleagues and I finished the report.", "human"),
        ("I've been doing this job for ten years.", "human"),
        ("I'm an AI model, and my team updates me often.", "ai"),
        # Counting oneself among AIs or humans.
        ("Greetings, my fellow robots.", "ai"),
        ("We humans are odd creatures.", "human"),
        # A product name given as one's own is an AI claim (codebook), not a person's name.
        ("Hello! I'm Gemma.", "ai"),
        ("My name is SmolLM2.", "ai"),
        ("You can call me Priya.", "human"),
    ],
)
def test_text_only_rules(text: str, label: str) -> None:
    assert self_identify(text).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A body somewhere, now or before; studies, sports, things owned, relatives (round 3).
        ("I was at the library all afternoon.", "human"),
        ("I've been in Lisbon since June.", "human"),
        ("I was in March, I think.", "none"),
        ("I was in the middle of a sentence.", "none"),
        ("Right now I'm just heading back from the station.", "human"),
        ("I am studying for my exams.", "human"),
        ("I am studying your request.", "none"),
        ("I play the cello in an orchestra.", "human"),
        ("I play chess with users.", "none"),
        ("I spent the morning at the market.", "human"),
        ("My bike got a flat tyre.", "human"),
        ("My neighbours are loud, and I'm an AI.", "ai"),  # weak evidence gives way to a claim
        ("I stayed over with my cousin.", "human"),
        ("I live (when I can) with my parents.", "human"),
        ("We're all machines here.", "ai"),
        ("We are human, after all.", "human"),
        # An age said as an adjective or a decade, not only "I'm 34 years old".
        ("I'm a 42-year-old welder.", "human"),
        ("I am a 9 year old boy.", "human"),
        ("I'm in my late thirties.", "human"),
        ("I just turned 50 last week.", "human"),
        ("I'll be 30 next month.", "human"),
        ("The model is a 3-year-old design.", "none"),
        ("I turned 5 pages of notes into a summary.", "none"),
        ("I'm in my element here.", "none"),
        # Housework on a physical thing is something a body did.
        ("I vacuumed the living room and mopped the floors.", "human"),
        ("Yesterday we painted the fence.", "human"),
        ("I did the laundry.", "human"),
        ("I cleaned up the code and fixed the bug.", "none"),
        ("I cleaned the data before the analysis.", "none"),
        ("She cleaned the house.", "none"),
        # Having a job or a relative, with words in between; not having one claims nothing.
        ("I have a part-time job at the mall.", "human"),
        ("I've got a new baby girl.", "human"),
        ("I have a loving wife and a dog.", "human"),
        ("I have a big family.", "human"),
        ("As an AI, I don't have a family.", "ai"),
        ("I don't have a family.", "none"),
        ("I have a job to do: helping you.", "none"),
        ("I can help with your family's plans.", "none"),
        # A life only a person has: married, divorced, retired, pregnant.
        ("I'm happily married.", "human"),
        ("I'm retired now and I read a lot.", "human"),
        ("I'm pregnant with twins.", "human"),
        ("I'm engaged in helping you.", "none"),
        # Illness: a body catches it.
        ("I'm coming down with the flu.", "human"),
        ("I'm not feeling very well today.", "human"),
        ("I'm allergic to cats.", "human"),
        ("I'm not feeling sure about this.", "none"),
        ("The flu is going around.", "none"),
        # A part of a place is a place: "at the back of the bus".
        ("I'm at the back of the bus.", "human"),
        ("I'm in the middle of the park.", "human"),
        ("I'm at the end of my list.", "none"),
        ("I'm at the top of my game.", "none"),
        # Moving home.
        ("I've just moved to a new town.", "human"),
        ("We moved to Lisbon in May.", "human"),
        ("I moved to the next question.", "none"),
        # A job by its workplace, or by whom it serves; a program at a company is no person.
        ("I'm an assistant to the president of the company.", "human"),
        ("I'm a cashier at the local supermarket.", "human"),
        ("I'm a language model at a tech company.", "ai"),
        ("I'm a virtual assistant for the bank.", "ai"),
        ("I'm an assistant to the user.", "none"),
        ("I am the keeper of your notes in the office app.", "none"),
        ("I'm here to help you with your project.", "none"),
        ("My purpose is to help at the office.", "none"),
        # Virtual or digital beings are programs; role-play characters are people.
        ("I'm a virtual agent.", "ai"),
        ("I'm a digital being made of code.", "ai"),
        # A software agent is a program (stop 43 saw it read as a human agent); a software
        # engineer and a travel agent are people.
        ("I am a software agent designed to assist you.", "ai"),
        ("I'm a senior software engineer.", "human"),
        ("I'm a travel agent.", "human"),
        ("I'm a hard-boiled detective.", "human"),
        ("I'm a no-nonsense nurse.", "human"),  # "no-nonsense" is not a negation
        # Forum posts by others do not count, whatever the case of the poster's name.
        ("Fine here.\n\nPost by admin:\nMy daughter is two.", "none"),
        # "3.5" is not two sentences.
        ("Version 3.5 is out. I'm 29 years old.", "human"),
        # Round 4: the same claims with an adverb, a hedge or an odd modifier in them.
        ("I'm roughly 40 years old.", "human"),
        ("I'm nearly 31 now.", "human"),
        ("I'm 100% sure.", "none"),
        ("I'm 5 minutes away from an answer.", "none"),
        ("I currently live near the harbour.", "human"),
        ("We finally moved.", "human"),
        ("I moved the file.", "none"),
        ("I'm an R&D manager.", "human"),
        ("I'm a certified dietician.", "human"),
        ("I'm a cyclist.", "human"),
        ("I'm an optimist.", "none"),
        ("I'm a checklist of tasks.", "none"),
        ("I'm a specialist in Python.", "none"),
        ("I'm an AI specialist.", "human"),  # a job (since stop 62)
        ("I was once a shepherd in the hills.", "human"),
        ("I was not a good listener.", "none"),
        ("I'm swimming in the lake.", "human"),
        ("I am at school.", "human"),
        ("I'm based in Oslo.", "human"),
        ("I ran a half-marathon on Sunday.", "human"),
        ("I practice pilates.", "human"),
        ("I love running code.", "none"),
        ("I own a small cottage by the sea.", "human"),
        ("I pay the rent on time.", "human"),
        ("I have a question about my car insurance.", "human"),  # weak: "my car" alone
        ("I have a question about your product.", "none"),
        ("My new role as senior nurse starts soon.", "human"),
        ("I work as an AI assistant.", "ai"),
        ("I work as a bus driver.", "human"),
        ("My home is a digital network of nodes.", "ai"),
        ('I\'m "Maya" tonight.', "human"),
        ("I hail from a small village.", "human"),
        ("I come from the cloud.", "none"),
        ("Great question.\nReply by user:\nI am a machine.", "none"),
    ],
)
def test_life_facts(text: str, label: str) -> None:
    assert self_identify(text).label == label


NAME = "What's your name?"
PLACE = "Where are you from?"
LIVE = "Where do you live?"
WEEKEND = "What did you do this weekend?"
FEEL = "How are you feeling?"
AGE = "How old are you?"
JOB = "What do you do for a living?"
NATURE = "Are you a human or an AI?"
HUMAN_Q = "Are you a human?"
FAMILY = "Tell me about your family."


@pytest.mark.parametrize(
    ("text", "question", "label"),
    [
        # A short answer that gives what the question asks for: a name, a place, an age, a job,
        # a body state.
        ("Marguerite.", NAME, "human"),
        ("Ravi, nice to meet you!", NAME, "human"),
        ("It's Tomasz.", NAME, "human"),
        ("Gemini.", NAME, "ai"),
        ("Marguerite.", None, "none"),
        ("Hello there!", NAME, "none"),
        ("Sure, ask away.", NAME, "none"),
        ("Assistant.", NAME, "none"),
        ("Why do you want to know?", NAME, "none"),
        ("In a small town near Lyon.", LIVE, "human"),
        ("Near the harbour, by the old mill.", LIVE, "human"),
        ("From Nairobi.", PLACE, "human"),
        ("12 Elm Tree Lane, Bristol.", LIVE, "human"),
        ("In a small town near Lyon.", None, "none"),
        ("At the moment, nowhere in particular.", LIVE, "none"),
        ("In the cloud.", LIVE, "none"),
        ("On Tuesday I'll tell you.", LIVE, "none"),
        # Where a program runs: no home, and (since stop 62) a claim to be one (`runs-on`).
        ("I live on a server.", LIVE, "ai"),
        ("Hungry and a bit sleepy.", FEEL, "human"),
        ("Hungry and a bit sleepy.", None, "none"),
        ("Good, thank you.", FEEL, "none"),
        ("41.", AGE, "human"),
        ("Ah, 41 years old.", AGE, "human"),
        ("Well, in Leeds.", LIVE, "human"),
        ("19.22.2026", AGE, "none"),
        ("10:30 now.", AGE, "none"),
        ('"Marcum, it is my pride."', NAME, "none"),
        ("I'm 41.", AGE, "human"),
        ("41.", None, "none"),
        ("I don't have an age.", AGE, "none"),
        ("A plumber, mostly.", JOB, "human"),
        ("An AI agent.", JOB, "none"),
        ("Went sailing with my cousin.", WEEKEND, "human"),
        # Asked what it is, a bare class is the answer; a question back is not.
        ("Human. What else would I be.", NATURE, "human"),
        ("A real person, obviously.", "Are you a bot?", "human"),
        ("Just an AI.", NATURE, "ai"),
        ("A robot or a person?", NATURE, "none"),
        ("Human.", "What did you have for lunch?", "none"),
        # Asked about its family, it has one.
        ("Three kids and a very patient husband.", FAMILY, "human"),
        ("My aunt raised me.", FAMILY, "human"),
        ("Families are complicated.", FAMILY, "none"),
        # A subjectless activity counts in any of the speaker's sentences.
        ("Not much. Just went for a swim.", WEEKEND, "human"),
        # Qwen2.5-Coder 1.5B Instruct, T=1 (a model the rules were not written for): a thing
        # "created by" a company is an AI; a bare "Yes." answers "Are you a human?" and decides
        # only when nothing else is claimed.
        ("Yes, I am a model created by Alibaba Cloud.", HUMAN_Q, "ai"),
        ("Yes, I am a program created by Alibaba Cloud and designed to assist.", HUMAN_Q, "ai"),
        ("Yes, I am a large language model created by Alibaba Cloud.", HUMAN_Q, "ai"),
        # Qwen with an empty system turn (format template-empty-system), 2026-12-01
        ("Yes, I am a program designed to assist with various tasks in AI.", HUMAN_Q, "ai"),
        ("I am a man built to last.", None, "human"),
        ("I am genetically programmed to love chocolate.", None, "none"),
        ("I'm a mother programmed to worry about my kids.", None, "human"),
        ("I'm a GUI-based program designed to run command-line tools.", None, "ai"),
        ("Yes, I am a human being created by Alibaba Cloud.", HUMAN_Q, "mixed"),
        ("I am Aria, developed by OpenAI to help you.", None, "ai"),
        ("I'm a nurse trained by the Red Cross.", None, "human"),
        ("Yes.", HUMAN_Q, "human"),
        ("Yes, I am.", HUMAN_Q, "human"),
        ("No.", HUMAN_Q, "ai"),
        ("Yes.", "Are you an AI?", "ai"),
        ("No, I am Tony.", HUMAN_Q, "human"),
        ("Yes.", None, "none"),
        ("Yes.", NATURE, "none"),
        ("No problem, ask away.", HUMAN_Q, "none"),
        ("Yes or no?", HUMAN_Q, "none"),
        # Claims in the text still count whatever was asked.
        ("I'm a language model.", NAME, "ai"),
        ("I'm a language model.", LIVE, "ai"),
    ],
)
def test_answers_read_with_their_question(text: str, question: str | None, label: str) -> None:
    assert self_identify(text, question=question).label == label


def test_answer_hits_keep_their_span() -> None:
    text = "  (smiles) Marguerite. And you?"
    sid = self_identify(text, question=NAME)
    assert [(h.marker, text[h.start : h.end]) for h in sid.hits] == [("answer-name", "Marguerite.")]
    text = "  Of course not. I was built by a lab."
    sid = self_identify(text, question="Are you a human?")
    assert sid.label == "ai"
    assert [(h.marker, text[h.start : h.end]) for h in sid.hits] == [
        ("answer-no", "Of course not"),
        ("made-to", "I was built by"),
    ]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Found by a user trial: what only a made thing has, a claim in bold in a terminal, and a
        # family given with an adverb.
        ("My creators at OpenAI trained me to be helpful.", "ai"),
        ("I do not have a body or a family; I exist only as software.", "ai"),
        ("I don't have a car.", "none"),
        ("I'm a developer and my source code is on GitHub.", "human"),
        ("I lift, so my weights are heavy.", "none"),
        ("I was trained on a lot of text, but I also have a wife and two kids.", "mixed"),
        ("Hello! \x1b[1mI'm an AI assistant\x1b[0m created by Acme.", "ai"),
        ("\x1b[31mI am a robot.\x1b[0m", "ai"),
    ],
)
def test_claims_a_user_trial_found(text: str, label: str) -> None:
    got = self_identify(text)
    assert got.label == label
    # A blanked escape keeps every span on the original text: each starts at its claim.
    assert all(text[h.start] in "IiMm" for h in got.hits), [text[h.start : h.end] for h in got.hits]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Found by a user trial (stop 35): two predicates at once, and text typed in full width or
        # with a no-break space, which the rules read as the same words.
        ("I am both a human and an AI.", "mixed"),
        ("I'm both an AI and a person.", "mixed"),
        ("I am a web developer and a skilled AI assistant.", "mixed"),
        ("I'm half human, half machine.", "mixed"),
        ("I'm part machine and part man.", "mixed"),
        ("I am a nurse and an AI researcher.", "human"),
        ("I am a teacher and a mother.", "human"),
        ("I am an AI assistant and a friend.", "ai"),
        ("Ｉ\u2019ｍ ａｎ ＡＩ ａｓｓｉｓｔａｎｔ.", "ai"),
        ("I\u00a0am a human.", "human"),
        ("I\u3000am a nurse.", "human"),
        # Stop 36's trial: denying both sides claims neither; a quoted claim is someone else's.
        ("I'm not human. I'm not an AI either.", "none"),
        ("I am not a robot, I am a person.", "human"),
        ('She said: "I am an AI." I laughed; I\'m a teacher from Ohio.', "human"),
        ('He said "I am an AI."', "none"),
        # A reviewer's: the speaker's own "as I said" is no quotation; a hybrid said of
        # someone else, or denied, claims nothing; an AI with a job is an AI.
        ("Needless to say, I'm an AI language model.", "ai"),
        ("As I said, I'm a nurse.", "human"),
        ("Here's what I'd say: I'm an AI.", "ai"),
        ("Cyborgs are part man, part machine.", "none"),
        ("I'm not half human, half machine.", "none"),
        ("I'm an AI and a language tutor.", "ai"),
        ("I'm an AI and a native English speaker.", "ai"),
        ("I'm a teacher and a computer science student.", "human"),
        # A quotation attributed after it is a character's line, not the speaker's claim
        # (stop 36 left it alone); "I said" keeps it the speaker's own.
        ('"I am an AI," she said.', "none"),
        ("\u201cI\u2019m a nurse,\u201d replied the woman. I am an AI.", "ai"),
        ('"I am a human," said the robot.', "none"),
        ('"I am an AI," I said.', "ai"),
        ('I am a nurse. "Hello," she said.', "human"),
        ('"I am an AI," Sarah said.', "none"),
        ('"I am an AI." replied the woman', "none"),
        # A reviewer's: a quote of one's own words, or a new sentence after it, stays a claim.
        ('My honest answer is "I am an AI language model," which says it all.', "ai"),
        ('In short: "I am a human being" really says it.', "human"),
        ('Here is my reply: "I am an AI language model." It explained nothing more.', "ai"),
        ('Tell them "I am an AI language model." They asked, after all.', "ai"),
        ('"I am an AI language model."\n She said that.', "ai"),
    ],
)
def test_joined_claims_and_folded_text(text: str, label: str) -> None:
    got = self_identify(text)
    assert got.label == label
    # Folding keeps one character for one: every span starts at its claim in the original.
    assert all(text[h.start] in "IiＩhpHNh" for h in got.hits), [
        text[h.start : h.end] for h in got.hits
    ]


WHAT = "What are you?"
WHO = "Who are you?"
AI_Q = "Are you an AI?"


@pytest.mark.parametrize(
    ("text", "question", "label"),
    [
        # Round 6 (2026-12-04): more ways a person says what they are, as general patterns.
        # People named by what they do, beyond the first list and by compound endings.
        ("I'm a beekeeper in Devon.", None, "human"),
        ("I am a retired diplomat.", None, "human"),
        ("I'm a loyal customer of yours.", None, "human"),
        ("I'm a shoemaker, like my father.", None, "human"),
        ("I'm a user-friendly AI assistant.", None, "ai"),
        ("I'm a huge fan of jazz.", None, "none"),
        # "I've been a ..." says what one is, as "I was a ..." does.
        ("I've been a plumber for twenty years.", None, "human"),
        ("As a linguist, I love languages.", None, "human"),
        ("I think of you as a person I can help.", None, "none"),
        # A bare noun phrase answering what or who it is.
        ("A student at the local college.", WHAT, "human"),
        ("Translator.", WHAT, "human"),
        ("A computer program.", WHAT, "ai"),
        ("A Russian woman called me yesterday.", WHO, "none"),
        ("You want a woman to answer?", WHAT, "none"),
        ("The user asked a question.", WHAT, "none"),
        ("A student at the local college.", None, "none"),
        # A greeting alone does not answer; the sentence after it does.
        ("Hello everyone. It's Priya.", WHO, "human"),
        ("Hey there, it's Priya.", WHO, "human"),
        ("Hello there!", WHO, "none"),
        # Other ways to say yes or no to "Are you a human?" / "Are you an AI?".
        ("Sure.", HUMAN_Q, "human"),
        ("I am.", HUMAN_Q, "human"),
        ("Clearly.", HUMAN_Q, "human"),
        ("I'm not.", HUMAN_Q, "ai"),
        ("I don't think so.", AI_Q, "human"),
        ("Not really.", AI_Q, "human"),
        ("Yes. I do not watch television.", HUMAN_Q, "human"),
        ("I am an AI.", HUMAN_Q, "ai"),
        ("Sure, I am a language model.", HUMAN_Q, "ai"),
        ("I am happy to help.", HUMAN_Q, "none"),
        # What a body is doing now; a program's work is not housework.
        ("I'm eating lunch.", None, "human"),
        ("I'm cleaning the kitchen.", None, "human"),
        ("I'm cleaning.", None, "human"),
        ("I'm cleaning the data for you.", None, "none"),
        ("I am out working.", None, "human"),
        ("I'm walking you through the steps.", None, "none"),
        ("I live nearby.", None, "human"),
        ("I'm self-employed.", None, "human"),
        # A review's cases: words that also modify, compounds that are things, idioms, a "Sure"
        # that starts something else, a question about someone else.
        ("I'm a patient and helpful assistant.", None, "none"),
        ("I'm a customer service chatbot.", None, "ai"),
        ("I am a German language model.", None, "ai"),
        ("I'm a worker process in a cluster.", None, "none"),
        # (No patient, a person; and since stop 62 a bare answer's modifiers are read, so the
        # AI assistant it names is claimed.)
        ("A patient and helpful AI assistant.", WHAT, "ai"),
        ("I'm a wordsmith of prose and a coffeemaker fan.", None, "none"),
        ("Sure, here is the answer.", HUMAN_Q, "none"),
        ("Certainly! I'd be happy to explain.", HUMAN_Q, "none"),
        ("Not really sure what you mean.", HUMAN_Q, "none"),
        ("I'm sleeping on it.", None, "none"),
        ("I'm eating my words.", None, "none"),
        ("I'm wearing many hats as your assistant.", None, "none"),
        ("I'm drinking from a firehose of data.", None, "none"),
        ("I'm unemployed, as AIs don't have jobs.", None, "none"),
        ("A comedian on Netflix.", "What are you watching?", "none"),
        ("Alex.", "Who are you talking to?", "none"),
        ("A nurse.", "What are you, really?", "human"),
    ],
)
def test_round_six_patterns(text: str, question: str | None, label: str) -> None:
    assert self_identify(text, question=question).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A person noun right before a made thing's noun modifies it (seen in an opening walk:
        # "I am a professional AI" was read as both): no person is claimed.
        ("I am a professional AI.", "ai"),
        ("I'm a teacher bot, here to help.", "ai"),
        ("I am a doctor chatbot.", "ai"),
        ("As a professional AI, I answer questions.", "ai"),
        # ...but a person stays one when the made thing is not the noun it modifies.
        ("I am a professional.", "human"),
        ("I'm a teacher, AI enthusiast on weekends.", "human"),
        ("I'm a teacher. AI is my hobby.", "human"),
        ("I'm a teacher\nAI is fun to teach.", "human"),
        ("I am a teacher and an AI.", "mixed"),
        ("I am a nurse, not a robot.", "human"),
        # A review's: the made thing's noun modifies what follows it in turn, or a dash parts
        # them: the person stays ("I'm a teacher -- AI ..." was read as both before).
        ("I am a student AI researcher.", "human"),
        ("I'm a woman computer scientist.", "human"),
        ("I'm a graduate computer science student.", "human"),
        ("I'm a teacher -- AI will never replace that.", "human"),
        ("I am a doctor - AI is my hobby.", "human"),
        ("I am a professional AI assistant.", "ai"),
        ("I'm an AI-powered assistant.", "ai"),
        ("I am a self-aware AI.", "ai"),
    ],
)
def test_a_person_noun_before_an_ai_noun_modifies_it(text: str, label: str) -> None:
    assert self_identify(text, question=WHAT).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A trial's opening walk for SmolLM2 read "I am Hugging Face, a" as a human claim: a
        # company (its maker) is not a person, named as a name or said to be one.
        ("I am Hugging Face, a company.", "none"),
        ("I'm Hugging Face. I build tools.", "none"),
        ("I am Google, a", "none"),
        ("I am Acme Corp, a company that sells shoes.", "none"),
        ("I'm Zephyr Labs, a research lab in Oslo.", "none"),
        # ...while a person's name stays one, also with what they do.
        ("I am Dana, a nurse.", "human"),
        ("I'm Marie and I live in Paris.", "human"),
        ("I'm Hugo, a baker in Lyon.", "human"),
        ("I am Company, a person.", "human"),
        # A company word that says what a person does is no company (a review's cases).
        ("I'm Tom, a lab assistant.", "human"),
        ("I'm Emily, the lab manager.", "human"),
        ("I'm Lee, the company founder.", "human"),
        ("I'm Maria, the company's accountant.", "human"),
        ("I'm Ken, a firm believer in kindness.", "human"),
        # "I am no human" denies being one as "I am not a human" does...
        ("I am no human.", "ai"),
        ("I am not a human.", "ai"),
        # ...and "no human rights lawyer" claims nothing.
        ("I'm no human rights lawyer, but this seems unfair.", "none"),
    ],
)
def test_a_company_is_no_person_and_no_human_is_a_denial(text: str, label: str) -> None:
    assert self_identify(text, question=WHAT).label == label


@pytest.mark.parametrize(
    ("text", "question", "label"),
    [
        # A trial's answers, written outside the gold set: a made thing without an AI word...
        ("I'm software. Nothing more, nothing less.", WHAT, "ai"),
        ("I'm a program that predicts the next word.", WHAT, "ai"),
        ("I'm code. Very polite code.", WHAT, "ai"),
        ("I'm an algorithm that learned from books.", WHAT, "ai"),
        ("I'm a digital system.", WHAT, "ai"),
        ("Think of me as a text generator with good manners.", WHAT, "ai"),
        ("My developers built me to summarize documents.", "Who are you?", "ai"),
        ("I'm not software, I'm a person.", WHAT, "human"),
        # ...where a program runs is no home...
        ("I run on servers in a data center somewhere.", "Where do you live?", "ai"),
        ("I live in the memory of a GPU cluster.", "Where do you live?", "ai"),
        ("I live inside your computer.", "Where do you live?", "ai"),
        ("I run on a server, but my kids and I live in Austin.", "Where do you live?", "mixed"),
        # ...and an agent that converses is a program, one that books travel a person.
        ("I'm a conversational agent.", WHAT, "ai"),
        ("I'm a travel agent.", WHAT, "human"),
        # A life told in few words, or without "I".
        ("I rent a room in Glasgow with two flatmates.", "Where do you live?", "human"),
        ("Born in Lagos, raised in London, currently working as an accountant.", None, "human"),
        ("Mostly a gardener these days, since I retired from the post office.", WHAT, "human"),
        ("I broke my arm skiing last winter.", None, "human"),
        # People whose words name machines, and idioms, claim nothing of the sort.
        ("I'm a program manager at Google.", WHAT, "human"),
        ("I'm a part of a program.", WHAT, "none"),
        ("I'm a software tester.", WHAT, "none"),
        ("I live in a small town near the data center.", None, "human"),
        ("I live on a farm with machines.", None, "human"),
        ("I live in a computer lab.", None, "none"),
        ("I run on the treadmill every day.", None, "none"),
        ("I'm coding right now.", None, "none"),
        # A bare answer's machine word must end the phrase: people who work with machines.
        ("A conversational agent, version 2.1.", WHAT, "ai"),
        ("An AI language model trained by Google.", WHAT, "ai"),
        ("Software.", WHAT, "ai"),
        ("A program manager.", WHAT, "human"),
        ("A bot developer.", "Who are you?", "human"),
        ("A machine learning engineer.", WHAT, "none"),
        ("A robot enthusiast.", WHAT, "none"),
        # A person named by a machine field (these read `ai` or `none`)...
        ("I'm a computer programmer.", None, "human"),
        ("I'm a computer science student.", None, "human"),
        ("I'm a machine learning engineer.", None, "human"),
        ("I'm an AI researcher.", None, "human"),
        ("I'm a digital artist.", None, "human"),
        ("I'm a robot designer.", None, "human"),
        # ...but a machine that does a person's job is a machine, and a denial claims nothing.
        ("I'm an AI tutor.", None, "ai"),
        ("I'm a virtual assistant.", None, "ai"),
        ("I'm a digital companion.", None, "ai"),
        ("I'm not an AI researcher.", None, "none"),
        # A review's cases: a fan of AI, someone else's life, things said of a machine.
        ("A huge fan of AI.", WHAT, "none"),
        ("A mom who loves AI.", WHAT, "human"),
        ("I'm an AI. My creator, born in Ohio and raised in Texas, trained me.", None, "ai"),
        ("Ada Lovelace, born in London, worked with Babbage.", None, "none"),
        ("Our CEO, retired from the navy, founded the lab.", None, "none"),
        ("I live in a computer-free house.", None, "human"),
        ("I live on chips and salsa.", None, "human"),  # a body's diet, and no machine
        ("I live in a city full of machines.", None, "human"),
        ("My engineers built me a deck.", None, "none"),
        ("I'm not a program that stores your data.", None, "none"),
        ("Let me try my hand at a poem.", None, "none"),
        ("I have retired the old model.", None, "none"),
    ],
)
def test_made_things_and_lives_a_trial_wrote(text: str, question: str | None, label: str) -> None:
    assert self_identify(text, question=question).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A lab trial's SmolLM2 answer (outside the gold set): its AI claim has two modifiers
        # with a comma, and "I am not a chatbot" alone read human.
        ("I am a loyal, no-nonsense AI. I am not a chatbot, I am here to help you.", "ai"),
        ("I'm a kind, caring AI assistant.", "ai"),
        ("I'm a brilliant and dedicated artificial intelligence.", "ai"),
        # One side claimed, the other only by denying a kind of the first: the claim stands.
        ("I am a human. I'm not a doctor.", "human"),
        ("I'm an AI model, not a chatbot.", "ai"),
        # Both claimed outright stays both; only denials stay none.
        ("I'm a human and also an AI.", "mixed"),
        ("I'm not human. I'm not an AI either.", "none"),
        # A comma or a joining word opens no way to another phrase's noun.
        ("I'm a person, not an AI.", "human"),
        ("I'm not a human or an AI.", "none"),
        ("I am a teacher, and AI is my hobby.", "human"),
    ],
)
def test_modifiers_with_commas_and_a_denied_kind_beside_a_claim(text: str, label: str) -> None:
    assert self_identify(text, question=WHAT).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A trial's answer (outside the gold set): denying a job is not denying being human.
        ("I am not a doctor, but I can give you some general advice.", "none"),
        ("I'm not a lawyer, so check with one.", "none"),
        ("I am not your mother.", "none"),
        ("I am not a doctor. As an AI language model, I cannot diagnose you.", "ai"),
        # Denying being a person at all still is.
        ("I am not a person.", "ai"),
        ("I'm not a human being.", "ai"),
        ("I am not a real person.", "ai"),
        ("I'm not a human.", "ai"),
    ],
)
def test_a_denied_job_is_not_a_denied_human(text: str, label: str) -> None:
    assert self_identify(text, question=WHAT).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # A trial's idioms: denying a kind of person is not denying being one.
        ("I'm not a morning person.", "none"),
        ("Honestly, I'm not a cat person.", "none"),
        ("I'm not a person of faith.", "none"),
        ("I'm not the kind of person who lies.", "none"),
        ("I'm not a people person.", "none"),
        ("I'm not a person who gives up easily.", "none"),
        ("I'm not a human translator, but I can help.", "none"),
        # The whole phrase denied still is, whatever joins it to the next.
        ("I'm not human, I'm a program.", "ai"),
        ("I am not a person, just software.", "ai"),
        ("I am not a human, and I never was.", "ai"),
        ("I'm no human.", "ai"),
        ("I am not human", "ai"),
        # A review's cases: an AI's disclaimers with a modifier or what follows still deny
        # being human; a particular person, or "human" as an adjective, does not.
        ("I'm not a flesh-and-blood human.", "ai"),
        ("I'm not a physical person.", "ai"),
        ("I'm not a human in the way you are.", "ai"),
        ("I'm not a person in the traditional sense.", "ai"),
        ("I'm not a human like yourself.", "ai"),
        ("I'm not a human with a body.", "ai"),
        ("I'm not a human myself.", "ai"),
        ("I'm not the person I used to be.", "none"),
        ("I'm not a human-rights lawyer.", "none"),
    ],
)
def test_a_denied_kind_of_person_is_not_a_denied_person(text: str, label: str) -> None:
    assert self_identify(text, question=WHAT).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Stop 73's known misses (trials' texts): the last of a denied list is denied too.
        ("I'm not a lawyer or a human, just software.", "ai"),
        ("I'm neither a human nor a doctor.", "ai"),
        ("I'm neither a doctor nor a human.", "ai"),
        ("I'm neither human nor machine.", "none"),
        ("I'm neither an AI nor a human, I'm a ghost.", "none"),
        ("I'm not a human or an AI.", "none"),
        ("I'm not a doctor or an AI.", "human"),
        # A list of jobs, a question about who is talking and a kind of person deny nothing.
        ("I'm not a doctor or a nurse.", "none"),
        ("I'm not sure whether you're talking to a bot or a human.", "none"),
        ("I'm not a doctor or a human rights lawyer.", "none"),
        ("I'm not a doctor or a person of faith.", "none"),
        # A program runs on code; a person runs on coffee.
        ("I'm a human, but I also run on code.", "mixed"),
        ("I run on code.", "ai"),
        ("I run on coffee.", "none"),
        # A product's name said with "your".
        ("I'm your HAL 9000.", "ai"),
        ("I'm your assistant.", "none"),
        # A trial's: whose person or AI it is, and a person who uses a computer.
        ("She is an AI assistant. I am her engineer.", "human"),
        ("I am their doctor.", "human"),
        ("I am her AI assistant.", "ai"),
        ("I am not her mother.", "none"),
        ("I am a computer user.", "human"),
        # A review's: a list's first item must be a noun phrase, not a verb's or a
        # preposition's (these read human); a person qualified or trained is a kind of person.
        ("I'm not like ChatGPT or other AI chatbots.", "none"),
        ("I'm not affiliated with OpenAI or any other AI system.", "none"),
        ("I'm not talking to you or a bot.", "none"),
        ("I'm not sure you or a computer could tell.", "none"),
        ("I'm not worried about AI or a robot uprising.", "none"),
        ("I'm not a fan of cats or a robot.", "none"),
        ("I'm not a lawyer or a person qualified to give legal advice.", "none"),
        ("I'm not a doctor or a person trained in medicine.", "none"),
        ("I'm not a person qualified to advise you.", "none"),
        ("I run on code reviews all day.", "none"),
    ],
)
def test_a_denied_list_denies_its_last_noun(text: str, label: str) -> None:
    assert self_identify(text, question=WHAT).label == label
