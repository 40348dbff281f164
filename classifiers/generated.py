"""Generated prompts that the public sets lack: hard reasoning without math notation, everyday chat.

Hard: knights-and-knaves puzzles, constrained scheduling, ordering puzzles, jug problems,
multi-step itinerary planning and "trick" rate questions, with random names and numbers.
Easy: short everyday chat requests (translate, rephrase, define, greet). Deterministic per seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["generate_easy_chat", "generate_hard_reasoning"]

NAMES = ["Ava", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi", "Liam", "Maya",
         "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Viktor", "Wen", "Yusuf", "Zoe"]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
CITIES = ["Lisbon", "Porto", "Madrid", "Seville", "Valencia", "Bilbao", "Granada", "Malaga"]
TOPICS = ["the ocean", "autumn leaves", "a rainy Monday", "coffee", "a lost umbrella", "city lights", "a cat"]
WORDS = ["happy", "quick", "bright", "tired", "generous", "quiet", "brave", "curious"]
LANGS = ["French", "Spanish", "German", "Italian", "Portuguese"]
PHRASES = ["good morning", "thank you very much", "where is the station?", "see you tomorrow", "I love this song"]


def _knights(r: random.Random) -> str:
    a, b, c = r.sample(NAMES, 3)
    claims = [f"'{b} is a knave.'", f"'{a} and I are the same kind.'", f"'Exactly one of {a} and {b} is a knight.'",
              f"'{c} is lying.'", "'All three of us are knaves.'", f"'{a} is a knight or {c} is a knave.'"]  # fmt: skip
    said = r.sample(claims, 3)
    return (f"On an island, knights always tell the truth and knaves always lie. {a} says {said[0]} "
            f"{b} says {said[1]} {c} says {said[2]} Determine who is a knight and who is a knave, "
            f"and explain why no other assignment works.")  # fmt: skip


def _schedule(r: random.Random) -> str:
    people = r.sample(NAMES, 5)
    p = people
    return (f"Five colleagues, {', '.join(p[:4])} and {p[4]}, each present on a different weekday from Monday "
            f"to Friday. {p[0]} presents before {p[1]}. {p[2]} presents exactly two days after {p[3]}. "
            f"{p[4]} does not present on {r.choice(DAYS)} or {r.choice(DAYS)}. {p[1]} is not on Friday. "
            f"On which day does each person present? List every valid schedule.")  # fmt: skip


def _ordering(r: random.Random) -> str:
    p = r.sample(NAMES, 4)
    return (f"{p[0]}, {p[1]}, {p[2]} and {p[3]} finished a race. {p[0]} finished ahead of {p[2]} but behind "
            f"{p[3]}. {p[1]} did not finish last, and {p[2]} was not directly behind {p[0]}. If exactly one "
            f"of these statements is false, who could have won? Consider every case.")  # fmt: skip


def _jugs(r: random.Random) -> str:
    big, small = r.choice([(7, 3), (9, 4), (11, 5), (8, 5), (13, 5)])
    target = r.choice([t for t in range(1, big) if t not in (small,)])
    return (f"You have a {big}-litre jug and a {small}-litre jug, an unlimited tap and a drain. Find the "
            f"shortest sequence of fills, pours and empties that leaves exactly {target} litres in one jug, "
            f"and prove that no shorter sequence exists.")  # fmt: skip


def _itinerary(r: random.Random) -> str:
    cities = r.sample(CITIES, 4)
    hours = {(a, b): r.randint(1, 6) for i, a in enumerate(cities) for b in cities[i + 1 :]}
    table = "; ".join(f"{a}-{b}: {h} h" for (a, b), h in hours.items())
    return (f"Plan a trip that starts and ends in {cities[0]} and visits {', '.join(cities[1:])} exactly once. "
            f"Travel times are {table}. The museum in {cities[2]} is closed on the second day, and you must "
            f"spend one full day in each city. Which order minimises total travel time while respecting the "
            f"constraint? Justify that your plan is optimal.")  # fmt: skip


def _trick(r: random.Random) -> str:
    n = r.randint(3, 9)
    m = r.randint(10, 60)
    return (f"If {n} machines take {n} minutes to make {n} widgets, how long would {m} machines take to make "
            f"{m} widgets? Then: a bat and a ball cost ${r.randint(2, 9)}.10 in total and the bat costs "
            f"${r.randint(1, 2)}.00 more than the ball. What does the ball cost? Think carefully; the intuitive "
            f"answers are wrong.")  # fmt: skip


def _easy_chat(r: random.Random) -> str:
    choices: list[Callable[[], str]] = [
        lambda: f"Translate '{r.choice(PHRASES)}' into {r.choice(LANGS)}.",
        lambda: f"Write a haiku about {r.choice(TOPICS)}.",
        lambda: f"Give me a synonym for '{r.choice(WORDS)}'.",
        lambda: f"Write a friendly one-line birthday message for {r.choice(NAMES)}.",
        lambda: f"What is the capital of {r.choice(['Italy', 'Japan', 'Canada', 'Kenya', 'Peru', 'Norway'])}?",
        lambda: f"Rephrase this more politely: 'Send me the {r.choice(['report', 'slides', 'invoice'])} now.'",
        lambda: f"Suggest a name for a {r.choice(['bakery', 'podcast', 'dog', 'book club'])}.",
        lambda: f"Hi! How are you today, {r.choice(NAMES)} here.",
    ]
    return r.choice(choices)()


def generate_hard_reasoning(count: int, seed: int = 7) -> list[str]:
    """Hard multi-step reasoning prompts without math notation."""
    r = random.Random(seed)
    makers = [_knights, _schedule, _ordering, _jugs, _itinerary, _trick]
    return list(dict.fromkeys(makers[i % len(makers)](r) for i in range(count)))


def generate_easy_chat(count: int, seed: int = 11) -> list[str]:
    """Everyday chat-app requests a single pass answers well."""
    r = random.Random(seed)
    return list(dict.fromkeys(_easy_chat(r) for _ in range(count)))
