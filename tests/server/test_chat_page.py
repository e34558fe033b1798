"""The chat page at ``/`` in a real browser: Debian's chromium, driven by playwright.

The page is checked as a person uses it: pick the model, type, watch the reply stream in,
press Stop (and see the server count a cancelled stream), reload and find the conversation
still there, edit a message and resend it. ``.ci/run`` installs chromium; without it these
tests fail and say how to install it.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mlxfn.tiny_model import build_tiny_model
from tests.conftest import ServerProcess, StartServer

LONG_REPLY = "3000"  # greedy, this model never stops early: a reply that is still streaming


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    pytest.fail("no chromium to drive: apt-get install chromium (.ci/run installs it)")


@pytest.fixture(scope="module")
def slow_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough that a long reply takes seconds (about 350 tokens/s here), with room for it."""
    folder = tmp_path_factory.mktemp("models") / "chatty"
    return build_tiny_model(folder, context_length=8192, hidden_size=256, layers=4)


@pytest.fixture(scope="module")
def page_server(start_server: StartServer, slow_model_dir: Path) -> ServerProcess:
    return start_server("--model", str(slow_model_dir))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, page_server: ServerProcess) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 760})
    opened = context.new_page()
    opened.goto(page_server.url + "/")
    expect(opened.locator("#model option")).to_have_count(1)
    yield opened
    context.close()


def metric(server: ServerProcess, name: str) -> float:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def settings(page: Page, *, temperature: str, max_tokens: str) -> None:
    page.locator("#settings summary").click()
    page.fill("#temperature", temperature)
    page.locator("#temperature").dispatch_event("change")
    page.fill("#max-tokens", max_tokens)
    page.locator("#max-tokens").dispatch_event("change")


# A stream whose reader went away is logged and counted with nginx's 499 (client closed).
CANCELLED = 'mlxfn_requests_total{route="/v1/chat/completions",status="499"}'


def test_a_reply_streams_and_stop_cancels_it(page: Page, page_server: ServerProcess) -> None:
    cancelled_before = metric(page_server, CANCELLED)
    settings(page, temperature="0", max_tokens=LONG_REPLY)
    page.fill("#prompt", "Hello there")
    page.press("#prompt", "Enter")
    reply = page.locator(".turn.assistant .content").last
    # text arrives while the reply is still running: it streams
    expect(page.locator("#stop")).to_be_visible()
    expect(reply).not_to_have_text("")
    first = len(reply.inner_text())
    last_reply = "document.querySelector('.turn.assistant:last-child .content')"
    page.wait_for_function(f"{last_reply}.textContent.length > {first}")
    expect(page.locator("#stop")).to_be_visible()
    page.click("#stop")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator(".turn.assistant .stats").last).to_contain_text("stopped")
    for _ in range(50):  # the server sees the closed connection at its next write
        if metric(page_server, CANCELLED) > cancelled_before:
            break
        page.wait_for_timeout(200)
    with urllib.request.urlopen(f"{page_server.url}/metrics", timeout=10) as response:
        seen = [line for line in response.read().decode().splitlines() if "/v1/chat" in line]
    assert metric(page_server, CANCELLED) == cancelled_before + 1, seen


def test_the_conversation_survives_a_reload(page: Page) -> None:
    page.locator("#new-chat").click()
    settings(page, temperature="0", max_tokens="12")
    page.fill("#prompt", "What is two plus two?")
    page.press("#prompt", "Enter")
    expect(page.locator(".turn.assistant .stats").last).to_contain_text("12 tokens")
    before = page.locator("#conversation").inner_text()
    page.reload()
    expect(page.locator(".turn")).to_have_count(2)
    assert page.locator("#conversation").inner_text() == before
    stored = json.loads(page.evaluate("localStorage.getItem('mlxfn-chat')"))
    assert [t["role"] for t in stored["turns"]] == ["user", "assistant"]
    assert stored["settings"]["maxTokens"] == "12"


def test_edit_and_resend_replaces_the_rest(page: Page) -> None:
    page.locator("#new-chat").click()
    settings(page, temperature="0", max_tokens="5")
    for text in ("first question", "second question"):
        page.fill("#prompt", text)
        page.press("#prompt", "Enter")
        expect(page.locator("#send")).to_be_visible()
    expect(page.locator(".turn")).to_have_count(4)
    page.get_by_role("button", name="Edit message 1 and resend").click()
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.locator("#prompt")).to_have_value("first question")
    page.fill("#prompt", "first question, edited")
    page.press("#prompt", "Enter")
    expect(page.locator(".turn")).to_have_count(2)
    expect(page.locator(".turn.user .content")).to_have_text("first question, edited")


def test_every_control_has_a_label_and_the_page_fits_a_phone(
    browser: Browser, page_server: ServerProcess
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 700})
    phone = context.new_page()
    phone.goto(page_server.url + "/")
    for control in ("#model", "#system", "#temperature", "#max-tokens", "#prompt"):
        assert phone.locator(f"label[for='{control[1:]}']").count() == 1, control
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px screen"
    context.close()


def test_with_a_key_the_page_asks_for_it(
    browser: Browser, start_server: StartServer, tiny_model_dir: Path
) -> None:
    keyed = start_server("--model", str(tiny_model_dir), "--api-key", "page-secret")
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(keyed.url + "/")
    expect(opened.locator("#key-dialog")).to_be_visible()
    opened.fill("#api-key", "page-secret")
    opened.click("#key-form button")
    expect(opened.locator("#model option")).to_have_count(1)
    assert opened.evaluate("sessionStorage.getItem('mlxfn-api-key')") == "page-secret"
    assert opened.evaluate("localStorage.getItem('mlxfn-chat') || ''").find("page-secret") < 0
    context.close()


def test_a_new_user_chats_with_the_default_model(
    browser: Browser, start_server: StartServer, tmp_path: Path
) -> None:
    """``python -m mlxfn``, then the page: nothing else to do."""
    default = start_server()
    context = browser.new_context(viewport={"width": 900, "height": 600})
    opened = context.new_page()
    opened.goto(default.url + "/")
    expect(opened.locator("#model")).to_have_value("smollm2-135m-instruct")
    settings(opened, temperature="0", max_tokens="24")
    opened.fill("#prompt", "What is the capital of France?")
    opened.press("#prompt", "Enter")
    expect(opened.locator("#send")).to_be_visible(timeout=60_000)
    expect(opened.locator(".turn.assistant .content")).to_contain_text("Paris")
    expect(opened.locator(".turn.assistant .stats")).to_contain_text("tok/s")
    opened.screenshot(path=str(tmp_path / "chat-page.png"))  # how README's picture was made
    context.close()


def test_a_reasoning_models_thinking_is_folded(
    browser: Browser, start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    thinker = build_tiny_model(tmp_path_factory.mktemp("models") / "thinker", thinking=True)
    server = start_server("--model", str(thinker))
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(server.url + "/")
    settings(opened, temperature="0", max_tokens="16")
    opened.fill("#prompt", "Think first")
    opened.press("#prompt", "Enter")
    expect(opened.locator("#send")).to_be_visible()
    reasoning = opened.locator(".turn.assistant .reasoning")
    expect(reasoning).to_be_visible()
    assert reasoning.get_attribute("open") is None  # folded until the reader opens it
    assert (reasoning.locator("pre").text_content() or "").strip()
    context.close()


def test_no_ui_serves_no_page(start_server: StartServer, tiny_model_dir: Path) -> None:
    bare = start_server("--model", str(tiny_model_dir), "--no-ui")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare.url + "/", timeout=10)
    assert refused.value.code == 404
