"""Unit tests for every task: registry, prompts, answer extraction and scoring (references right, wrong answers
wrong)."""

from __future__ import annotations

import copy
import re

import pytest

from unmask.tasks import GSM8K, MATH500, MBPP, HumanEval, available_tasks, get_task
from unmask.tasks.answers import extract_number
from unmask.tasks.countdown import check_solution
from unmask.tasks.digits import fixed_width_equation
from unmask.tasks.latex import equivalent, last_boxed, normalise

SYNTHETIC = ["arith", "arith_fixed", "arith_digits", "countdown", "countdown3_digits", "sudoku", "digits"]
CHAT_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}<|assistant|>"


class ChatTokenizer:
    """The part of a Hugging Face tokenizer the tasks use when it has a chat template."""

    chat_template = "stub"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages) + "<assistant>"


# registry


def test_registry_lists_every_task():
    assert available_tasks() == sorted(["arith", "arith_fixed", "arith_digits", "arith_digits1", "countdown", "countdown3",
                                        "countdown3_digits", "sudoku", "digits", "digits1", "digits2", "gsm8k",
                                        "math500", "humaneval", "mbpp"])


def test_digits1_has_exactly_one_operation():
    task = get_task("digits1")
    assert task.name == "digits1"
    records = task.generate(200, 0)
    assert all("," not in r["completion"] and len(re.findall(r"[+\-*]", r["context"])) == 1 for r in records)


def test_arith_digits1_asks_for_exactly_one_operation():
    task = get_task("arith_digits1")
    records = task.generate(200, 0)
    assert all(r["answer"].count("\n") == 1 and r["question"].count(".") == 2 for r in records)
    assert {re.search(r"[-+*/]", r["answer"]).group() for r in records} == set("+-*/")


def test_digits2_is_the_chains_of_digits():
    task = get_task("digits2")
    assert task.name == "digits2" and task.gen_length == get_task("digits").gen_length
    records = task.generate(200, 0)
    assert all(r["completion"].count(",") == 1 and len(re.findall(r"[+\-*]", r["context"])) == 2 for r in records)
    assert all(task.score(r, task.target(r)) for r in records)


def test_countdown3_has_exactly_three_operands():
    task = get_task("countdown3")
    assert task.name == "countdown3"
    assert all(len(r["input"].split(",")) == 4 for r in task.generate(50, 0))


def test_get_task_passes_options_and_rejects_unknown_names():
    assert get_task("countdown", max_operands=3).max_operands == 3
    assert get_task("gsm8k", num_fewshot=0).name == "gsm8k"
    with pytest.raises(ValueError, match="unknown task 'gsm9k'.*gsm8k"):
        get_task("gsm9k")


def test_every_task_declares_its_fields():
    expected = {"arith": ("question", "answer"), "countdown": ("input", "output"), "sudoku": ("input", "output"),
                "digits": ("context", "completion"),
                "gsm8k": ("question", "answer"), "math500": ("problem", "answer"),
                "mbpp": ("text", "code", "test_list")}
    for name, fields in expected.items():
        assert get_task(name).fields == fields
    assert {"prompt", "test", "entry_point"} <= set(get_task("humaneval").fields)


# synthetic tasks


@pytest.mark.parametrize("name", SYNTHETIC)
def test_generation_is_deterministic_per_seed(name):
    task = get_task(name)
    assert task.generate(20, seed=3) == task.generate(20, seed=3)
    assert task.generate(20, seed=3) != task.generate(20, seed=4)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_reference_target_scores_true(name):
    task = get_task(name)
    for item in task.generate(200, seed=0):
        assert task.score(item, task.target(item)), item
        assert task.extract(task.target(item)) == task.gold(item)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_wrong_answers_score_false(name):
    task = get_task(name)
    for item in task.generate(50, seed=1):
        assert not task.score(item, "")
        assert not task.score(item, "garbage")
    for item in task.generate(50, seed=2):
        assert not task.score(item, _corrupt(name, task.target(item)))


def _corrupt(name: str, target: str) -> str:
    """The reference target with its final answer changed: the last number +1 (arith, countdown, digits), or the
    first two cells of the grid swapped (sudoku)."""
    if name == "sudoku":
        return target[1] + target[0] + target[2:] if target[0] != target[1] else "1111" + target[4:]
    separator = "=" if name.startswith("countdown") else "," if name.startswith("digits") else " "
    head, sep, last = target.rpartition(separator)
    return f"{head}{sep}{int(last) + 1}"


def test_arith_scores_the_marked_number_else_the_last():
    task = get_task("arith")
    item = {"question": "q", "answer": "2+3=5\n#### 5"}
    assert task.score(item, "2+3=5\n#### 5\nthen 7")
    assert task.score(item, "so the answer is 5")
    assert not task.score(item, "#### 6\n5")
    assert task.prompt(item) == "Question: q\nAnswer:\n"


@pytest.mark.parametrize(("name", "target", "final", "line_pattern", "final_pattern"), [
    ("arith_fixed", "039*005=195\n195/005=039\n039-011=028\n#### 028", "028",
     r"\d{3}[-+*/]\d{3}=\d{3}", r"#### \d{3}"),
    ("arith_digits", "0039*5=00195\n0195/5=00039\n0039-0011=00028\n#### 00028", "00028",
     r"\d{4}([-+]\d{4}|[*/]\d)=\d{5}", r"#### \d{5}"),
    ("arith_digits1", "0039*5=00195\n0195/5=00039\n0039-0011=00028\n#### 00028", "00028",
     r"\d{4}([-+]\d{4}|[*/]\d)=\d{5}", r"#### \d{5}"),
])
def test_arith_layouts_rewrite_the_answer_and_score_like_arith(name, target, final, line_pattern, final_pattern):
    """`arith_fixed` pads every number to 3 digits; `arith_digits` (and its one-operation `arith_digits1`) write each
    equation as digits does."""
    task, plain = get_task(name), get_task("arith")
    item = {"question": "q", "answer": "39*5=195\n195/5=39\n39-11=28\n#### 28"}
    assert task.target(item) == target
    assert task.prompt(item) == plain.prompt(item) and task.gold(item) == plain.gold(item) == "28"
    assert task.score(item, f"#### {final}") and task.score(item, "#### 28")
    assert not task.score(item, f"#### {final[:-1]}9")
    records = task.generate(500, seed=1)
    for record in records:  # GSM8K records; only the answer's layout differs
        assert task.score(record, task.target(record)) and plain.score(record, task.target(record))
        assert task.gold(record) == plain.gold(record) == str(int(task.target(record).split()[-1]))
        *lines, last = task.target(record).split("\n")
        assert all(re.fullmatch(line_pattern, line) for line in lines) and re.fullmatch(final_pattern, last)
    assert max(len(task.target(r)) - len("###") for r in records) + 1 <= task.gen_length  # `####` is one token


def test_fixed_width_equation_is_the_digits_layout():
    assert fixed_width_equation(347, "+", 589, 936) == "0347+0589=00936"
    assert fixed_width_equation(5927, "*", 8, 47416) == "5927*8=47416"
    assert fixed_width_equation(195, "/", 5, 39) == "0195/5=00039"
    assert fixed_width_equation(90, "/", 15, 6) == "0090/0015=00006"  # a two-digit divisor is padded
    digits = get_task("digits1")
    for item in digits.generate(200, seed=4):  # a one-operation digits prompt and answer read as one equation
        a, op, b = re.fullmatch(r"(\d+)([-+*])(\d+)=", item["context"]).groups()
        equation = fixed_width_equation(int(a), op, int(b), int(item["completion"]))
        assert equation == digits.prompt(item) + digits.target(item)


def test_arith_rejects_a_layout_without_its_width():
    with pytest.raises(ValueError, match="layout 'digits' with width 0.*width > 0"):
        get_task("arith", layout="digits")
    with pytest.raises(ValueError, match="layout 'spaced'"):
        get_task("arith", layout="spaced", width=3)


def test_countdown3_digits_pads_the_target_and_scores_like_countdown3():
    task, plain = get_task("countdown3_digits"), get_task("countdown3")
    item = {"input": "44,15,79,50", "output": "44-15=29,79-29=50"}
    assert task.target(item) == "0044-0015=00029,0079-0029=00050"
    assert task.prompt(item) == plain.prompt(item)
    assert task.score(item, task.target(item)) and task.score(item, "44-15=29,79-29=50")
    assert not task.score(item, "0044-0015=00029,0079-0029=00051")
    records = task.generate(500, seed=2)
    assert all(plain.score(r, task.target(r)) for r in records)
    assert max(len(task.target(r)) for r in records) + 1 <= task.gen_length


def test_extract_number_still_importable_from_arith():
    from unmask.tasks.arith import extract_number as from_arith

    assert from_arith is extract_number


@pytest.mark.parametrize("text, number", [
    ("#### 42", "42"), ("blah 3 then 4\n#### 1,234", "1234"), ("it is 18.00 dollars", "18"), ("-7 and 5.0", "5"),
    ("$1,000,000 total", "1000000"), ("answer: 0.50", "0.5"), ("#### -0", "0"), ("no digits", None),
    ("18.", "18"), ("#### 3\n#### 4", "3"),
])
def test_extract_number(text, number):
    assert extract_number(text) == number


def test_countdown_checker():
    assert check_solution([44, 15, 79], 50, "44-15=29,79-29=50")
    assert check_solution([6, 4, 2], 5, "6*4=24,24/2=12") is False  # does not reach the target
    assert not check_solution([44, 15, 79], 50, "44-15=29,79-29=51")  # wrong arithmetic
    assert not check_solution([44, 15, 79], 50, "44-15=29,44-29=15")  # 44 used twice
    assert not check_solution([44, 15, 79], 50, "44-15=29,29-15=14")  # reuses 15, never uses 79
    assert not check_solution([7, 2, 5], 1, "7/2=3,5-3=2")  # inexact division
    assert not check_solution([3, 9, 2], 7, "9-2=7")  # leaves 3 unused
    assert not check_solution([3, 9, 2], 1, "2-3=1")  # negative intermediate written as positive
    assert not check_solution([3, 9], 12, "3 + 9 = 12")  # spaces are not the format


def test_countdown_scores_first_line_only():
    task = get_task("countdown")
    item = {"input": "44,15,79,50", "output": "44-15=29,79-29=50"}
    assert task.score(item, "44-15=29,79-29=50\nmore text")
    assert not task.score(item, "44-15=29\n79-29=50")  # the second line is not read
    assert task.prompt(item) == "Use 44,15,79 to make 50.\nEquations:\n"


def test_digits_records_are_correct_arithmetic_with_carries():
    items = get_task("digits").generate(500, seed=5)
    for item in items:
        expression, results = item["context"].rstrip("="), item["completion"].split(",")
        operands, ops = re.split(r"[+\-*]", expression), re.findall(r"[+\-*]", expression)
        assert 1 <= len(ops) == len(results) <= 2 and 3 <= len(operands[0]) <= 4, item
        value = int(operands[0])
        for op, operand, result in zip(ops, operands[1:], results):
            assert len(operand) == 1 if op == "*" else 3 <= len(operand) <= 4, item
            value = {"+": value + int(operand), "-": value - int(operand), "*": value * int(operand)}[op]
            assert result == str(value) and value >= 0, item
        assert "*" not in ops[1:], item  # left to right agrees with precedence
    assert {op for item in items for op in re.findall(r"[+\-*]", item["context"])} == {"+", "-", "*"}
    carries = sum(int(a[-1]) + int(b[-1]) >= 10 for a, b in (i["context"][:-1].split("+")[:2] for i in items
                                                               if i["context"].count("+") == 1 and "-" not in
                                                               i["context"] and "*" not in i["context"]))
    assert carries > 20  # units digits that carry are common


def test_digits_generation_is_fresh_across_seeds():
    task = get_task("digits")
    first, second = task.generate(300, seed=20251130), task.generate(300, seed=0)
    assert not {i["context"] for i in first} & {i["context"] for i in second}


def test_digits_fixed_width_layout_pads_operands_and_results():
    task = get_task("digits")
    item = {"context": "347+589-212=", "completion": "936,724"}
    assert task.prompt(item) == "0347+0589-0212="
    assert task.target(item) == "00936,00724"
    assert task.prompt({"context": "5927*8+13=", "completion": "47416,47429"}) == "5927*8+0013="  # the digit stays
    assert task.gold(item) == "724"
    assert task.score(item, "00936,00724") and task.score(item, "936,724")
    assert not task.score(item, "00936,00725") and not task.score(item, "00936,0072 4")
    assert get_task("digits1").gen_length == 8 and task.gen_length == 16
    longest = max(len(task.target(i)) for i in task.generate(500, seed=1))
    assert longest + 1 <= task.gen_length  # the answer and its EOS fit


def test_digits_scores_the_last_number_of_the_first_line_exactly():
    task = get_task("digits", width=0)
    item = {"context": "347+589-212=", "completion": "936,724"}
    assert task.prompt(item) == "347+589-212="
    assert task.gold(item) == "724"
    assert task.score(item, "936,724")
    assert task.score(item, "935,724\nmore")  # only the final result is scored
    assert task.score(item, " 724")  # EleutherAI's completions start with a space
    assert not task.score(item, "936,0724")  # leading zero
    assert not task.score(item, "936,72 4")
    assert not task.score(item, "936\n724")  # the second line is not read
    assert not task.score(item, "936,724,")
    assert task.extract("12,x") is None and task.extract("") is None


def test_sudoku_rejects_changed_givens_and_broken_units():
    task = get_task("sudoku")
    item = {"input": "1003\n0300\n3210\n4132", "output": "1423\n2341\n3214\n4132"}
    assert task.score(item, "1423\n2341\n3214\n4132")
    other_solution_changing_a_given = "2413\n1324\n3142\n4231"  # a valid grid, but the first given 1 became 2
    assert not task.score(item, other_solution_changing_a_given)
    assert not task.score(item, "1423\n2341\n3214\n4123")  # the givens 3 and 2 of the last row swapped
    assert not task.score(item, "1234\n3412\n2143\n4321")  # a valid grid that ignores the givens
    assert not task.score(item, "1423\n2341\n3214")  # incomplete


def test_sudoku_accepts_any_valid_solution_of_an_ambiguous_puzzle():
    task = get_task("sudoku")
    item = {"input": "0000\n0000\n0000\n0000", "output": "1234\n3412\n2143\n4321"}
    assert task.score(item, "2143\n4321\n1234\n3412")


# gsm8k

GSM_ITEM = {"question": "Ann has 3 bags of 4 apples. How many apples?", "answer": "3*4=<<3*4=12>>12\n#### 12"}
SHOTS = ({"question": "What is 1+1?", "answer": "1+1=2\n#### 2"}, {"question": "What is 2*3?", "answer": "#### 6"})


def test_gsm8k_zero_shot_prompt_is_lm_eval_style():
    assert GSM8K().prompt(GSM_ITEM) == "Question: Ann has 3 bags of 4 apples. How many apples?\nAnswer:"


def test_gsm8k_few_shot_prompt():
    prompt = GSM8K(num_fewshot=2, fewshot=SHOTS).prompt(GSM_ITEM)
    assert prompt == ("Question: What is 1+1?\nAnswer: 1+1=2\n#### 2\n\nQuestion: What is 2*3?\nAnswer: #### 6\n\n"
                      "Question: Ann has 3 bags of 4 apples. How many apples?\nAnswer:")
    assert GSM8K(num_fewshot=1, fewshot=SHOTS).prompt(GSM_ITEM).count("Question:") == 2


def test_gsm8k_few_shot_without_examples_names_the_fix():
    with pytest.raises(ValueError, match="fewshot_path"):
        GSM8K(num_fewshot=3).prompt(GSM_ITEM)
    with pytest.raises(ValueError, match="num_fewshot"):
        GSM8K(num_fewshot=-1)


def test_gsm8k_uses_the_chat_template_when_there_is_one():
    assert GSM8K().prompt(GSM_ITEM, ChatTokenizer()) == f"<user>{GSM8K().prompt(GSM_ITEM)}</user><assistant>"


def test_gsm8k_with_a_real_tokenizer(tokenizer):
    assert GSM8K().prompt(GSM_ITEM, tokenizer) == GSM8K().prompt(GSM_ITEM)  # no chat template: raw prompt
    chat = copy.deepcopy(tokenizer)
    chat.chat_template = CHAT_TEMPLATE
    assert GSM8K().prompt(GSM_ITEM, chat) == f"<|user|>{GSM8K().prompt(GSM_ITEM)}<|end|><|assistant|>"


def test_gsm8k_scoring():
    task = GSM8K()
    assert task.gold(GSM_ITEM) == "12"
    assert task.score(GSM_ITEM, task.target(GSM_ITEM))
    assert task.score(GSM_ITEM, " She has 3*4 = 12 apples.\n#### 12")
    assert task.score(GSM_ITEM, " 3 bags times 4 is 12.00 apples")
    assert task.score(GSM_ITEM, " #### 12\n\nQuestion: Bob has 5 pens. How many?\nAnswer: 5")  # cut at "Question:"
    assert not task.score(GSM_ITEM, " 3*4 = 13\n#### 13")
    assert not task.score(GSM_ITEM, " #### 13 (not 12)")
    assert not task.score(GSM_ITEM, " I do not know")
    assert "Question:" in task.stop


# math500

MATH_ITEM = {"problem": "What is $1/2 + 1/4$?", "answer": "\\frac{3}{4}"}


@pytest.mark.parametrize("text, boxed", [
    ("so $\\boxed{5}$.", "5"), ("\\boxed{\\frac{1}{2}} then \\boxed{x^{2}+1}", "x^{2}+1"),
    ("\\boxed{\\left( 1, \\frac{2}{3} \\right)}", "\\left( 1, \\frac{2}{3} \\right)"), ("\\fbox{7}", "7"),
    ("\\boxed 12$", "12"), ("\\boxed{3", None), ("no box", None), ("\\boxed{}", ""),
])
def test_last_boxed(text, boxed):
    assert last_boxed(text) == boxed


@pytest.mark.parametrize("answer, reference", [
    ("\\frac12", "\\frac{1}{2}"), ("\\dfrac{3}{4}", "\\frac{3}{4}"), ("\\tfrac{3}{4}", "3/4"), ("0.75", "\\frac34"),
    ("5.0", "5"), ("x = 5", "5"), ("y=2x+1", "2x+1"), ("10\\text{ cm}", "10"), ("36 \\text{ cm}^2", "36"),
    ("30^\\circ", "30"), ("30^{\\circ}", "30"), ("50\\%", "50"), ("\\$12", "12"), ("1,000", "1000"),
    ("\\left( 3, 2 \\right)", "(3,2)"), ("\\sqrt2", "\\sqrt{2}"), ("5\\sqrt2", "5\\sqrt{2}"), (".5", "\\frac{1}{2}"),
    ("\\text{(B)}", "(B)"), ("-3/4", "-\\frac{3}{4}"), ("12 inches", "12"), ("\\frac{6}{8}", "0.75"),
    ("3\\!\\cdot\\!4", "3\\cdot4"),
])
def test_equivalent_answers(answer, reference):
    assert equivalent(answer, reference), (normalise(answer), normalise(reference))


@pytest.mark.parametrize("answer, reference", [
    ("\\frac{1}{3}", "0.33"), ("5", "6"), ("(3,2)", "(2,3)"), ("\\sqrt{3}", "\\sqrt{2}"), ("x+1", "x-1"),
    ("\\frac{1}{0}", "1"), ("", "0"),
])
def test_different_answers(answer, reference):
    assert not equivalent(answer, reference)


def test_math500_prompt_and_scoring():
    task = MATH500()
    raw = task.prompt(MATH_ITEM)
    assert raw.startswith("Problem: What is $1/2 + 1/4$?\n") and raw.endswith("\\boxed{}.\nSolution:")
    chat = task.prompt(MATH_ITEM, ChatTokenizer())
    assert chat.startswith("<user>What is $1/2 + 1/4$?\nPlease reason") and chat.endswith("</user><assistant>")
    assert task.score(MATH_ITEM, task.target(MATH_ITEM))
    assert task.score(MATH_ITEM, "Sum is $\\boxed{\\dfrac34}$.")
    assert task.score(MATH_ITEM, "Sum is $\\boxed{0.75}$.")
    assert task.score(MATH_ITEM, "\\boxed{1} is wrong; fixed: \\boxed{3/4}")  # the last box counts
    assert not task.score(MATH_ITEM, "\\boxed{3/4} at first, then \\boxed{1}")
    assert not task.score(MATH_ITEM, "The answer is 3/4.")  # no box
    assert not task.score(MATH_ITEM, "\\boxed{\\frac{3}{5}}")
    assert task.score(MATH_ITEM, "\\boxed{3/4}\n\nProblem: next one \\boxed{9}")  # cut at the next problem


def test_math500_target_is_the_solution_when_present():
    item = {**MATH_ITEM, "solution": "Adding, $\\boxed{\\frac{3}{4}}$."}
    assert MATH500().target(item) == item["solution"]
    assert MATH500().score(item, MATH500().target(item))


# humaneval (made-up records; the real data is tested in test_benchmarks_data.py)

HE_ITEM = {
    "task_id": "Test/0", "entry_point": "double",
    "prompt": 'def double(x: int) -> int:\n    """ Twice x.\n    >>> double(2)\n    4\n    """\n',
    "canonical_solution": "    return 2 * x\n",
    "test": "\n\ndef check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-3) == -6\n",
}


def test_humaneval_prompt_is_the_function_stub():
    assert HumanEval().prompt(HE_ITEM) == HE_ITEM["prompt"]
    assert HumanEval().prompt(HE_ITEM, ChatTokenizer()) == HE_ITEM["prompt"]


def test_humaneval_extract_cuts_a_body_at_stop_sequences():
    task = HumanEval()
    assert task.extract("    return 2 * x\n\ndef other():\n    pass\n") == "    return 2 * x\n"
    assert task.extract("    return 2 * x\n\nprint(double(3))") == "    return 2 * x\n"
    assert task.extract("    return 2 * x\n# done") == "    return 2 * x"
    assert task.extract("    return 2 * x\n\nif __name__ == '__main__':\n    pass") == "    return 2 * x\n"
    whole = "def double(x):\n    return x + x\n\ndef helper():\n    pass\n"
    assert task.extract(whole) == whole  # a whole function is kept
    assert task.extract("Here:\n```python\n    return x * 2\n```\nDone.") == "    return x * 2\n"


def test_humaneval_scoring_runs_the_tests():
    task = HumanEval(timeout=3)
    assert task.score(HE_ITEM, task.target(HE_ITEM))
    assert task.score(HE_ITEM, "    return x + x\n\ndef unrelated(:\n")  # junk after the stop sequence is cut
    assert task.score(HE_ITEM, "def double(x):\n    return x * 2\n")
    assert not task.score(HE_ITEM, "    return x * 3\n")
    assert not task.score(HE_ITEM, "    return 2 * x +\n")  # syntax error
    assert not task.score(HE_ITEM, "    pass\n")
    assert not task.score(HE_ITEM, "    import sys\n    sys.exit(0)\n")  # exiting while check() runs


# mbpp

MBPP_ITEM = {"task_id": 1, "text": "Write a function to add two numbers.", "code": "def add(a, b):\r\n    return a + b",
             "test_list": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"], "test_setup_code": ""}


def test_mbpp_prompt_is_the_usual_format():
    expected = ("You are an expert Python programmer, and here is your task: Write a function to add two numbers. "
                "Your code should pass these tests:\n\nassert add(1, 2) == 3\nassert add(-1, 1) == 0\n")
    assert MBPP().prompt(MBPP_ITEM) == expected
    assert MBPP().prompt(MBPP_ITEM, ChatTokenizer()) == f"<user>{expected}</user><assistant>"


def test_mbpp_extract():
    task = MBPP()
    assert task.extract("Sure:\n```python\ndef add(a, b):\n    return a + b\n```\nThat adds.") == \
        "def add(a, b):\n    return a + b\n"
    assert task.extract("```\ndef f():\n    pass\n```") == "def f():\n    pass\n"
    assert task.extract("```python\ndef f():\n    pass") == "def f():\n    pass"  # unclosed block
    assert task.extract("def f():\n    pass\n") == "def f():\n    pass\n"
    assert task.extract("[BEGIN]\ndef f():\n    pass\n[DONE]\nmore") == "\ndef f():\n    pass\n"


def test_mbpp_scoring_runs_the_asserts():
    task = MBPP(timeout=3)
    assert task.score(MBPP_ITEM, task.target(MBPP_ITEM))
    assert task.score(MBPP_ITEM, "```python\ndef add(a, b):\n    return b + a\n```")
    assert not task.score(MBPP_ITEM, "def add(a, b):\n    return a - b\n")
    assert not task.score(MBPP_ITEM, "def add(a, b):\n    return 3\n")  # passes the first assert only
    assert not task.score(MBPP_ITEM, "Just add them.")
    assert not task.score(MBPP_ITEM, "def add(a, b):\n    return 3\nimport sys\nsys.exit(0)\n")


def test_mbpp_runs_the_setup_code_before_the_asserts():
    item = {**MBPP_ITEM, "test_setup_code": "OFFSET = 10", "test_list": ["assert add(1, 2) == 13"]}
    assert MBPP(timeout=3).score(item, "def add(a, b):\n    return a + b + OFFSET\n")
    assert not MBPP(timeout=3).score({**item, "test_setup_code": ""}, "def add(a, b):\n    return a + b + OFFSET\n")
