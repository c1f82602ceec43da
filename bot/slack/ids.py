"""Action ids, block ids and view callback ids: the names handlers bind to.

Action ids carry an index suffix (`quorum_answer:3`) because Slack wants them unique
within a block; handlers match the prefix with these patterns.
"""

import re

ANSWER = "quorum_answer"
ANSWER_PATTERN = re.compile(rf"^{ANSWER}:\d+$")


def indexed(action: str, index: int) -> str:
    return f"{action}:{index}"
