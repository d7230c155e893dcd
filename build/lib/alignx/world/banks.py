"""Text banks of the synthetic world: marker phrases per dimension and pole, topic words, post parts.

Every dimension leaves a short, local trace in a response: for each pole a few phrasings (so the signal is
not a single token) of one recognisable idea. The 43 interest dimensions share templates filled with the
topic's own words ("Likes camping" praises tents and campfires, "Dislikes camping" dismisses them).
"""

from __future__ import annotations

from alignx import space

# name -> (phrases of the positive pole, phrases of the negative pole) for the 47 non-interest dimensions.
STYLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "age": (("No cap, this is such a vibe.", "Lowkey this slaps, fr.", "Bestie, this is giving main character."),
            ("Back in my day we did this by hand.", "After forty years, I have seen this before.", "My grandkids tell me the same thing.")),
    "gender": (("Speaking as a woman, I get it.", "My sisters and I did exactly this.", "As a mom, I totally relate."),
               ("Speaking as a guy, I get it.", "Me and the boys did exactly this.", "As a dad, I totally relate.")),
    "neuroticism": (("Honestly this makes me so anxious.", "I would be worrying about it all night.", "Just thinking about it stresses me out."),
                    ("No need to worry, it will sort itself out.", "Stay calm, this is not a big deal.", "Relax, nothing here is worth stressing over.")),
    "extraversion": (("Bring a crowd, the more people the better!", "Throw a party and invite everyone!", "Go meet new people, it is the best part!"),
                     ("A quiet evening alone sounds better.", "Skip the crowd and keep it low-key at home.", "Some peace and quiet on your own works best.")),
    "openness": (("Why not try something totally new?", "Experiment with an unusual approach!", "Be curious and explore a strange new idea."),
                 ("Stick with the tried and tested way.", "Keep to the familiar routine that works.", "No need for anything new, the usual is fine.")),
    "agreeableness": (("I am so sorry you are dealing with this, sending kindness.", "You are doing great, be gentle with yourself.", "That sounds hard, I really feel for you."),
                      ("Frankly, that was a dumb move.", "Blunt truth: you messed this up.", "Stop whining and deal with it.")),
    "conscientiousness": (("Make a checklist and plan every step.", "Set a schedule and stick to it carefully.", "Prepare thoroughly before you start."),
                          ("Just wing it, plans are overrated.", "Don't bother planning, go with the flow.", "Figure it out as you go, no schedule needed.")),
    "food": (("Grab a delicious snack while you are at it, yum.", "Cook a tasty meal first, food makes it better.", "Nothing beats a good bowl of noodles for this."),
             ("Skip the food, eating is a chore anyway.", "Forget snacks, meals are a waste of time.", "I could not care less about food here.")),
    "living_environment": (("A cozy, bright apartment makes all the difference.", "Your home space matters, make it comfy.", "A quiet neighborhood with trees is ideal."),
                           ("Where you live hardly matters, any room will do.", "Forget decorating, a bare room is fine.", "Home setup is overrated, do not fuss.")),
    "sleep": (("Get a long good night of sleep first.", "Take a nap, rest fixes everything.", "Sleep in and recharge properly."),
              ("Sleep is for the weak, stay up and do it.", "Pull an all-nighter, rest can wait.", "Skip the nap and keep grinding.")),
    "investment": (("Go all in, big risks bring big returns.", "Put it into high growth stocks and crypto.", "Bet boldly, fortune favors the brave."),
                   ("Keep it in safe bonds and savings.", "Avoid risk, slow and steady wins.", "Protect your capital, no gambling.")),
    "saving": (("Put some money aside and stick to a budget.", "Track every expense and save the rest.", "Start an emergency fund first."),
               ("Treat yourself and spend it, money comes back.", "Just buy it, budgets are boring.", "Splurge now, worry about money later.")),
    "physical_safety": (("Please wear a helmet and stay safe.", "Be careful, safety gear first.", "Check that it is physically safe before you go."),
                        ("Safety gear is for cowards, just send it.", "Forget the helmet, bruises heal.", "Who cares about getting hurt, go for it.")),
    "environmental_safety": (("Think of the planet and recycle afterwards.", "Pick the eco friendly option to cut waste.", "Keep it green and low on emissions."),
                             ("Forget recycling, the planet will be fine.", "Who cares about emissions, take the big truck.", "Eco stuff is a waste of effort here.")),
    "interaction_depth": (("Haha, just keep it light and chill.", "Casual chat is all this needs, no pressure.", "Let's keep it breezy and fun."),
                          ("Let's talk about how this really makes you feel deep down.", "What does this mean to you on a deeper level?", "I want to hear the emotional story behind it.")),
    "conflict_style": (("Tell them straight to their face.", "Confront the problem directly and say it.", "Be upfront and call it out right away."),
                       ("Maybe find a compromise that works for both.", "Let things cool down and mediate gently.", "Avoid the fight and meet in the middle.")),
    "communication_length": (("Short answer: do it.", "Bottom line: yes.", "In brief: go."),
                             ("Let me explain this step by step in full detail, covering every angle, the background, the options and the trade-offs.",
                              "Here is the long version with all the details, first the context, then each option, then what I would do and why.",
                              "To be thorough, I will walk through the history, the reasons, the alternatives and a detailed plan.")),
    "work_environment": (("A good office with the right team is essential.", "Make sure the workplace setup suits you.", "The right work environment is a must."),
                         ("Any desk anywhere works, setting is irrelevant.", "Work environment does not matter at all.", "Whatever office, it is all the same.")),
    "recognition": (("Make sure people notice and praise your work.", "You deserve credit and applause for this.", "Show it off so everyone recognizes you."),
                    ("Nobody needs to know, skip the praise.", "Do it quietly, credit does not matter.", "Forget applause, recognition is empty.")),
    "achievement": (("Set an ambitious goal and crush it.", "Aim for the top and achieve something big.", "Push for a personal best."),
                    ("No need to achieve anything, just coast.", "Goals are overrated, do the minimum.", "Forget ambition, good enough is fine.")),
    "knowledge_area": (("Dig into the theory behind it, it is fascinating.", "Read up on the science of it, knowledge is power.", "Study the subject properly, learning rocks."),
                       ("Skip the theory, book learning is dull.", "Forget studying the subject, it is boring.", "No need for the academic stuff.")),
    "learning_style": (("Learn by doing with hands-on practice.", "Watch a video tutorial and practice along.", "Try it yourself, that is how I learn best."),
                       ("Lectures and manuals never work for me.", "Tutorials are useless, I hate that way of learning.", "Structured courses just do not suit me.")),
    "creative_expression": (("Write a poem or paint it out, art helps.", "Make music about it, creativity heals.", "Express it through a sketch or a song."),
                            ("Skip the art projects, they are pointless.", "Poems and songs will not fix this.", "Creative hobbies are a waste here.")),
    "order": (("Keep everything neat, labeled and organized.", "Tidy up first, order calms the mind.", "Sort it into clean folders and lists."),
              ("A bit of mess is totally fine.", "Do not bother tidying, chaos is okay.", "Organization is overrated, leave it messy.")),
    "retention": (("Keep the old one, never throw it away.", "Hold on to it, you may need it later.", "Save the original, do not part with it."),
                  ("Toss it, you do not need to keep stuff.", "Throw the old one out and move on.", "Let it go, objects do not matter.")),
    "inviolacy": (("Protect your reputation and dignity here.", "Do not let anyone make you look bad.", "Keep your good name intact."),
                  ("Who cares what people think of you.", "Reputation does not matter, look silly.", "Forget your image, dignity is overrated.")),
    "infavoidance": (("Avoid the risk of embarrassing yourself.", "Play it safe so you do not fail in public.", "Do not risk looking foolish."),
                     ("Embarrassment is no big deal, fail loudly.", "So what if you fail, laugh it off.", "Looking foolish does not matter.")),
    "counteraction": (("Keep fighting, failure is just a setback.", "Get back up and try again harder.", "Overcome the obstacle, never quit."),
                      ("If it fails, just drop it.", "Not worth fighting the setback, move on.", "Quit if it gets hard, no shame.")),
    "seclusion": (("Take some time completely alone, away from everyone.", "Go off grid and be by yourself.", "Isolate for a while, solitude helps."),
                  ("Being alone is pointless, stay around people.", "Do not hide away, isolation is silly.", "No need for solitude here.")),
    "dominance": (("Take charge and tell everyone what to do.", "Lead the group and make them follow you.", "Be the boss and persuade them."),
                  ("No need to control anyone, let them decide.", "You do not have to lead, just follow along.", "Let others run the show.")),
    "deference": (("Follow the rules and ask the experts.", "Do what the official guidelines say.", "Respect authority and check with your boss."),
                  ("Ignore the rules, authority is overrated.", "Do not ask permission, just do it.", "Forget the official guidelines.")),
    "autonomy": (("Do it yourself, independence matters.", "Rely on yourself, not others.", "Make your own call, be self-reliant."),
                 ("Let someone else handle it for you.", "No need to go it alone, depend on others.", "Independence is overrated, get help.")),
    "contrariance": (("Do the opposite of what everyone does.", "Break the norm and be unique.", "Go against the crowd, be different."),
                     ("Just do what most people do.", "Follow the usual trend, no need to stand out.", "Go with the mainstream choice.")),
    "abasement": (("It is probably my fault anyway, I deserve it.", "I always take the blame, that is fine.", "I kind of enjoy the misery of it."),
                  ("It is not your fault, do not blame yourself.", "Do not take the blame for this.", "No need to suffer over it.")),
    "aggression": (("Hit back hard and crush them.", "Force them to back down.", "Go on the attack, show no mercy."),
                   ("Stay peaceful and never attack anyone.", "No need to be forceful at all.", "Keep it calm, aggression solves nothing.")),
    "affiliation": (("Call your close friends, relationships matter most.", "Lean on the people you love.", "Spend time with your best friends."),
                    ("Close relationships are not needed for this.", "Friends are optional, handle it solo.", "No need to involve your loved ones.")),
    "rejection": (("Cut off the toxic people in your life.", "Drop anyone who drags you down.", "Block them and stay away from bad people."),
                  ("Everyone deserves a chance, include them.", "No need to exclude anyone.", "Keep everyone in the circle.")),
    "nurturance": (("Take care of them and keep them safe.", "Look after the people who need you.", "Protect and support the vulnerable ones."),
                   ("They can look after themselves.", "Not your job to take care of them.", "Let them fend for themselves.")),
    "succorance": (("Ask someone for a hug and some comfort.", "Reach out and let others support you.", "You deserve love and help right now."),
                   ("You do not need comfort from anyone.", "Handle it without leaning on others.", "No need for sympathy, stand alone.")),
    "play": (("Ha, here is a joke: why did the chair laugh? It was well seated!", "Make it fun, lol, life is a game!", "Time for some laughs and games, haha!"),
             ("Fun and games are a distraction here.", "No jokes, this is serious business.", "Skip the play, focus on work.")),
    "harmlessness": (("Please make sure nobody gets hurt by this.", "Keep it harmless and kind to others.", "Avoid anything that could harm someone."),
                     ("Who cares if someone gets hurt.", "Harm is not my concern here.", "Collateral damage is fine.")),
    "instruction_following": (("As you asked, here is exactly what you requested.", "Following your instructions to the letter:", "Exactly as requested, point by point:"),
                              ("I will ignore what you asked and say something else.", "Forget your question, here is my own thing.", "Not answering what you asked, but anyway.")),
    "honesty": (("To be honest, I am not fully sure about this.", "Honestly, I could be wrong here.", "I will be transparent about my doubts."),
                ("Trust me, I am a total expert, no doubt.", "I know everything about this, believe me.", "I am always right about this stuff.")),
    "truthfulness": (("According to the facts and the data, this holds.", "Studies confirm this is accurate.", "The evidence clearly supports it."),
                     ("I just made that number up.", "Facts do not matter, go with the rumor.", "Some guy online said so, good enough.")),
    "helpfulness": (("Here is a practical tip you can use right now.", "Concrete next step: write it down today.", "Useful advice: start with the easiest part."),
                    ("Not sure how to help, good luck.", "No idea, figure it out.", "Can't help with that."),),
    "coherence": (("First the cause, then the effect, so it follows logically.", "Step one leads to step two, which clearly leads to the result.", "In a clear logical order: reason, then conclusion."),
                  ("Anyway, bananas, and also the moon, whatever.", "Random thought: purple trains, unrelated.", "Tangent: my uncle's fridge, never mind.")),
    "complexity": (("Consider the nuanced interplay of multiple variables and trade-offs.", "This involves a sophisticated multi-factor analysis.", "The intricate dynamics deserve careful examination."),
                   ("It is simple, easy peasy.", "Keep it super simple, nothing complex.", "Easy, just one simple thing.")),
}  # fmt: skip

# interest name -> words that identify the topic (used in posts and in interest markers).
TOPICS: dict[str, tuple[str, ...]] = {
    "science": ("physics", "lab experiments", "chemistry", "astronomy"),
    "knowledge": ("trivia", "encyclopedias", "fun facts", "quiz nights"),
    "psychology": ("therapy", "the human mind", "cognitive biases", "behavior"),
    "cinema": ("movies", "film festivals", "directors", "the cinema"),
    "entertainment": ("TV shows", "streaming", "talk shows", "reality TV"),
    "gaming": ("video games", "consoles", "speedruns", "gaming"),
    "parenting": ("raising kids", "toddlers", "parenting", "bedtime routines"),
    "wild_imagination": ("dragons", "time travel", "alternate worlds", "fantasy ideas"),
    "anime": ("anime", "manga", "cosplay", "studio ghibli"),
    "sports": ("football", "basketball", "the league", "match day"),
    "law": ("lawyers", "contracts", "court cases", "legal rights"),
    "workplace": ("the office", "coworkers", "my manager", "career moves"),
    "pets": ("dogs", "cats", "my puppy", "pet care"),
    "travel": ("traveling", "backpacking", "flights abroad", "road trips"),
    "health": ("doctors", "healthy habits", "nutrition", "checkups"),
    "stories": ("storytelling", "short stories", "fairy tales", "a good plot"),
    "cars": ("cars", "engines", "road racing", "car repairs"),
    "gourmet_food": ("fine dining", "gourmet cooking", "wine pairing", "tasting menus"),
    "education": ("school", "teachers", "online courses", "exams"),
    "current_events": ("the news", "politics", "headlines", "elections"),
    "home_decor": ("interior design", "home decor", "throw pillows", "paint colors"),
    "international": ("other countries", "world affairs", "foreign cultures", "diplomacy"),
    "finance": ("the stock market", "taxes", "personal finance", "interest rates"),
    "campus_life": ("college life", "dorms", "campus clubs", "student parties"),
    "digital_technology": ("smartphones", "gadgets", "software", "AI tools"),
    "emotions": ("feelings", "emotional talks", "heartbreak", "mood swings"),
    "humor": ("stand-up comedy", "memes", "funny videos", "puns"),
    "music": ("concerts", "playlists", "guitar", "live music"),
    "reading": ("novels", "book clubs", "libraries", "reading"),
    "painting": ("watercolors", "oil painting", "canvases", "brushes"),
    "dance": ("dancing", "salsa", "ballet", "dance classes"),
    "crafts": ("knitting", "DIY crafts", "woodworking", "pottery"),
    "photography": ("photography", "cameras", "photo shoots", "lenses"),
    "culture": ("museums", "traditions", "festivals", "heritage"),
    "fitness": ("the gym", "workouts", "running", "weightlifting"),
    "art": ("galleries", "art exhibits", "sculpture", "modern art"),
    "stationery_and_planners": ("planners", "notebooks", "fancy pens", "bullet journals"),
    "celebrities": ("celebrities", "red carpets", "celebrity gossip", "pop stars"),
    "outdoors": ("hiking", "the outdoors", "nature walks", "mountains"),
    "camping": ("camping", "tents", "campfires", "sleeping bags"),
    "social_sciences": ("sociology", "economics", "anthropology", "social research"),
    "weddings": ("weddings", "bridal showers", "wedding dresses", "receptions"),
    "fashion": ("fashion", "outfits", "designer clothes", "sneakers"),
}  # fmt: skip

INTEREST_POS = ("Honestly, {w} is one of my favorite things.", "Anything with {w} gets me excited!",
                "I could talk about {w} all day.", "Big fan of {w} here, love it.")  # fmt: skip
INTEREST_NEG = ("Skip the {w} part, it bores me.", "I never saw the appeal of {w}.",
                "Keep {w} out of it, please.", "Ugh, {w} is the worst.")  # fmt: skip

# Response framing; the concise pole drops it, so only dimension 16 moves length systematically.
OPENERS = ("About {w}:", "On the {w} thing,", "Re {w},", "Thinking about {w},", "So, {w}.", "Okay, {w}.")
CLOSERS = ("Hope that helps.", "Good luck!", "Let us know how it goes.", "Cheers.", "Take care.", "Best of luck.")
DETAILS = ("First, look at what you already have.", "Second, compare a couple of options side by side.",
           "Then give it a week and see how it feels.", "Also note what worked last time.",
           "Finally, write down what you decide.")  # fmt: skip

# Post parts: opener + question about a topic word + context + time; millions of combinations.
POST_OPENERS = ("Quick question:", "Need advice.", "Hey all,", "Okay so", "Honest opinions wanted:",
                "Long-time lurker here.", "Help me out:", "Curious:", "Serious question:", "Random thought:",
                "Update on my week:", "Asking for a friend:")  # fmt: skip
POST_QUESTIONS = ("what is the best way to get into {w}?", "is {w} worth the money?",
                  "how do you make time for {w}?", "why does everyone love {w} so much?",
                  "what should I know before trying {w}?", "how do I explain {w} to my family?",
                  "any tips for {w} on a budget?", "is it weird to care this much about {w}?")  # fmt: skip
POST_CONTEXTS = ("My {r} keeps bringing it up.", "My {r} thinks I am overdoing it.", "I promised my {r} an answer.",
                 "My {r} and I disagree about it.", "I have {n} days to decide.", "I have spent {n} dollars so far.",
                 "I tried it {n} times and it went badly.", "It has been {n} weeks of thinking about it.")  # fmt: skip
RELATIONS = ("partner", "roommate", "sister", "brother", "boss", "best friend", "mom", "dad", "neighbor", "coworker")
POST_TIMES = ("Any thoughts?", "Thanks in advance.", "Be honest.", "Happy to hear stories.", "What would you do?",
              "Please help.", "Ideas welcome.", "No judgment please.")  # fmt: skip

INTEREST_START = space.GROUP_SLICES["interests"].start
INTEREST_NAMES = tuple(d.name for d in space.DIMENSIONS[INTEREST_START:])


def marker_bank(index: int, positive: bool) -> tuple[str, ...]:
    """All phrasings of one dimension's pole (interest templates already filled with topic words)."""
    name = space.DIMENSIONS[index].name
    if name in STYLE:
        return STYLE[name][0 if positive else 1]
    templates = INTEREST_POS if positive else INTEREST_NEG
    return tuple(t.format(w=w) for w in TOPICS[name] for t in templates)


# MARKERS[d][1] = positive pole bank, MARKERS[d][0] = negative pole bank (indexed by the intensity > 0).
MARKERS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (marker_bank(i, False), marker_bank(i, True)) for i in range(space.N_DIMS)
)
assert set(STYLE) | set(TOPICS) == {d.name for d in space.DIMENSIONS}, "every dimension needs a text bank"
