#!/usr/bin/env python3
"""The console in a real browser: headless Chromium driven by Selenium against `mamori serve`
fed by the simulator (flows, RADIUS accounting, DHCP leases, NAT events).

An analyst signs in, reads the overview, opens a C&C finding and sees its cohort and beacon
plot, marks it a false positive, reveals a case's subscriber with a reason and finds that reveal,
under her account, on the audit page, then switches to English and back. Every step saves a
screenshot to --out. Exit status 0 only when every check held; each failure is printed.

Run by Tests/SimulatorTests/ConsoleBrowserTests.swift (so by `swift test` and scripts/test);
by hand:

    .build/pytools/bin/python Tests/browser/console_test.py --mamori .build/debug/mamori --out /tmp/shots
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

PASSWORD = "alice's long console password"
RADIUS_SECRET = "mamori-console-secret-0001"
SIMULATION = ["--subscribers", "400", "--duration", "10m", "--seed", "11"]


class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, condition, what):
        print(("ok    " if condition else "FAIL  ") + what, flush=True)
        if not condition:
            self.failures.append(what)
        return condition


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}… failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return r.stdout


def api(port, path, token):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mamori", required=True, help="the built mamori binary")
    ap.add_argument("--out", required=True, help="folder for the screenshots")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = ap.parse_args()
    for what, path in [("chromium (Debian package chromium)", args.chromium), ("chromedriver (Debian package chromium-driver)", args.chromedriver)]:
        if not os.access(path, os.X_OK):
            raise SystemExit(f"error: {what} is missing at {path}; scripts/test installs it")
    os.makedirs(args.out, exist_ok=True)
    checks = Checks()
    work = tempfile.mkdtemp(prefix="mamori-console-browser-")
    data = os.path.join(work, "data")
    server = None
    driver = None
    try:
        # The operators, before the first start, as on a new installation.
        with open(os.path.join(work, "password"), "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(os.path.join(work, "password"), 0o600)
        run([args.mamori, "user", "add", "alice", "--role", "analyst", "--data-dir", data, "--password-file", os.path.join(work, "password")])
        run([args.mamori, "user", "add", "root", "--role", "admin", "--data-dir", data, "--password-file", os.path.join(work, "password")])
        reader = run([args.mamori, "token", "create", "browser-test", "--scope", "read_findings,read_cases", "--expires", "1d",
                      "--created-by", "root", "--data-dir", data]).strip()

        labels = os.path.join(work, "labels.json")
        run([args.mamori, "simulate", "--labels", labels] + SIMULATION)
        indicators = ""
        for c in json.load(open(labels)).get("commandAndControl", []):
            indicators += f"{c['address']}:{c['port']}/{c['protocol']} mirai\n"
        open(os.path.join(work, "indicators.txt"), "w").write(indicators)
        open(os.path.join(work, "policy.yaml"), "w").write(
            "terms:\n  - version: v3\n    effective: 2025-04-01\n    discloses: [warn_infection, warn_vulnerability]\n")
        http_port = free_port(socket.SOCK_STREAM)
        open(os.path.join(work, "mamori.yaml"), "w").write(
            f"detection:\n  indicators_file: {work}/indicators.txt\n"
            f"attribution:\n  reveal: true\n"
            f"lawful:\n  policy_file: {work}/policy.yaml\n  notice_base_url: http://127.0.0.1:{http_port}\n")
        udp, radius = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
        server = subprocess.Popen(
            [args.mamori, "serve", "--config", f"{work}/mamori.yaml", "--listen", f"127.0.0.1:{udp}", "--http", f"127.0.0.1:{http_port}",
             "--data-dir", data, "--log-level", "warning", "--radius", f"127.0.0.1:{radius}", "--radius-secret", RADIUS_SECRET,
             "--kea-leases4", f"{work}/leases4.csv", "--kea-leases6", f"{work}/leases6.csv"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"))
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("mamori serve stopped: " + open(os.path.join(work, "serve.log")).read()[-2000:])
                time.sleep(0.1)
        else:
            raise SystemExit("mamori serve did not come up in 30 s")
        out = run([args.mamori, "simulate", "--to", f"127.0.0.1:{udp}", "--fast", "--labels", labels, "--radius", f"127.0.0.1:{radius}",
                   "--radius-secret", RADIUS_SECRET, "--kea-leases4", f"{work}/leases4.csv", "--kea-leases6", f"{work}/leases6.csv",
                   "--nat-events"] + SIMULATION)
        checks.expect("send_failures=0" in out, "the simulator sent every datagram")
        # Wait (at most 60 s) for a C&C finding and a case.
        c2, cases = [], []
        for _ in range(600):
            c2 = api(http_port, "/api/v1/findings?kind=c2-server&limit=10", reader).get("findings", [])
            cases = api(http_port, "/api/v1/cases", reader)
            if c2 and cases:
                break
            time.sleep(0.1)
        if not (checks.expect(bool(c2), "the detectors found a C&C server") and checks.expect(bool(cases), "a case was opened")):
            return 1

        base = f"http://127.0.0.1:{http_port}"
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1100",
                  "--lang=ja", "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
            options.add_argument(a)
        options.add_experimental_option("prefs", {"intl.accept_languages": "ja"})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=options)
        driver.set_page_load_timeout(30)
        # A page being replaced by the next one leaves stale elements for a moment: wait past them.
        wait = WebDriverWait(driver, 15, ignored_exceptions=[StaleElementReferenceException])
        shot_number = [0]

        def shot(name):
            shot_number[0] += 1
            path = os.path.join(args.out, f"{shot_number[0]:02d}-{name}.png")
            driver.save_screenshot(path)
            print(f"      screenshot {path}", flush=True)

        def console_errors():
            try:
                return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                        and not (e.get("source") == "network" and ("401 (Unauthorized)" in e.get("message", "") or "favicon.ico" in e.get("message", "")))]
            except Exception:
                return []

        # 1. Sign in (the console asks for it, and comes back to where the analyst was going).
        driver.get(base + "/console/findings?kind=c2-server")
        checks.expect(driver.find_element(By.ID, "login-form").is_displayed(), "an unsigned visit shows the sign-in form")
        shot("login")
        driver.find_element(By.ID, "name").send_keys("alice")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(EC.presence_of_element_located((By.ID, "findings")))
        checks.expect("/console/findings" in driver.current_url, "after sign-in, the page asked for")
        cookie = driver.get_cookie("mamori_session") or {}
        checks.expect(cookie.get("httpOnly") is True and cookie.get("sameSite") == "Strict", "the session cookie is HttpOnly and SameSite=Strict")
        shot("findings")

        # 2. The overview: charts drawn on the server. Its series are sampled every 10 s, so a
        # server a few seconds old may not have drawn the simulator's burst yet: reload (≤ 30 s).
        lines = []
        for _ in range(30):
            driver.get(base + "/console")
            lines = driver.find_elements(By.CSS_SELECTOR, "#chart-flows svg polyline")
            if lines:
                break
            time.sleep(1)
        checks.expect(len(driver.find_elements(By.CSS_SELECTOR, "#chart-flows svg")) == 1, "the overview draws the flow-rate chart as SVG")
        checks.expect(len(lines) >= 1, "the flow-rate chart has the exporter's line")
        checks.expect(len(driver.find_elements(By.CSS_SELECTOR, "#chart-findings svg rect")) > 0, "the findings-per-hour chart has bars")
        shot("overview")

        # 3. A C&C finding: the cohort and the beacon plot.
        driver.get(base + "/console/findings?kind=c2-server&sort=score")
        driver.find_element(By.CSS_SELECTOR, "a.finding-link").click()
        wait.until(EC.presence_of_element_located((By.ID, "finding-subject")))
        cohort = driver.find_elements(By.CSS_SELECTOR, "#cohort li")
        checks.expect(len(cohort) >= 1, f"the finding shows its cohort ({len(cohort)} hosts)")
        checks.expect(all(li.text[:2] in ("h:", "s:") or li.text.startswith("+") for li in cohort),
                      f"the cohort is shown by pseudonym: {[li.text for li in cohort][:3]}")
        ticks = driver.find_elements(By.CSS_SELECTOR, "#chart-beacon svg line[stroke-width='1.5']")
        checks.expect(len(ticks) >= 5 * max(1, min(len(cohort), 12)),
                      f"the beacon plot shows each host's contacts ({len(ticks)} ticks for {len(cohort)} hosts)")
        shot("finding")

        # 4. Mark it a false positive.
        finding_url = driver.current_url
        driver.find_element(By.ID, "verdict-false-positive").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "p.flash")))
        verdict = driver.find_element(By.ID, "finding-verdict").text
        checks.expect("誤検知" in verdict and "alice" in verdict, f"the verdict is recorded under alice: {verdict!r}")
        shot("false-positive")
        finding_id = finding_url.rsplit("/", 1)[-1]
        stored = api(http_port, f"/api/v1/findings/{finding_id}", reader)
        checks.expect((stored.get("verdict") or {}).get("analyst") == "alice", "the API shows the verdict by alice")

        # 5. Reveal a case's subscriber, with a reason; the identity shows once.
        driver.get(base + "/console/cases")
        driver.find_element(By.CSS_SELECTOR, "a.case-link").click()
        wait.until(EC.presence_of_element_located((By.ID, "case-reference")))
        reference = driver.find_element(By.ID, "case-reference").text
        shot("case")
        driver.find_element(By.ID, "reveal-reason").send_keys("subscriber called the abuse desk, ticket 4711")
        driver.find_element(By.ID, "reveal-submit").click()
        try:
            WebDriverWait(driver, 5).until(EC.alert_is_present())
            driver.switch_to.alert.accept()
        except (TimeoutException, NoAlertPresentException):
            checks.expect(False, "the reveal asks for confirmation first")
        wait.until(lambda d: d.find_elements(By.ID, "revealed") or d.find_elements(By.ID, "reveal-none"))
        revealed = driver.find_elements(By.ID, "revealed")
        checks.expect(len(revealed) == 1, f"case {reference}: the subscriber's identity is revealed")
        shot("revealed")
        driver.get(driver.current_url.replace("/reveal", ""))
        checks.expect(not driver.find_elements(By.ID, "revealed"), "reloading the case does not show the identity again")

        # 6. The reveal on the audit page, with alice's account.
        driver.get(base + "/console/audit?kind=identity_reveal")
        rows = driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")
        checks.expect(any("analyst:alice" in r.text and "ticket 4711" in r.text for r in rows), "the audit page shows alice's reveal and her reason")
        driver.find_element(By.ID, "audit-verify").click()
        wait.until(EC.presence_of_element_located((By.ID, "audit-verification")))
        checks.expect("✔" in driver.find_element(By.ID, "audit-verification").text, "the audit chain verifies")
        shot("audit")

        # 7. English, and back.
        driver.find_element(By.ID, "switch-language").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
        checks.expect("Audit" in driver.find_element(By.TAG_NAME, "h1").text, "the console speaks English")
        shot("english")
        driver.get(base + "/console")
        checks.expect(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en", "English stays for alice's account")
        driver.find_element(By.ID, "switch-language").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja")
        checks.expect("概要" in driver.find_element(By.TAG_NAME, "h1").text, "and back to Japanese")
        shot("japanese")

        errors = console_errors()
        checks.expect(not errors, f"no errors in the browser console (CSP violations included): {errors}")

        # 8. Sign out: the old cookie no longer opens the console.
        driver.find_element(By.ID, "sign-out").click()
        wait.until(EC.presence_of_element_located((By.ID, "login-form")))
        driver.get(base + "/console")
        checks.expect(bool(driver.find_elements(By.ID, "login-form")), "after signing out, the console asks to sign in")

        # 9. The admin: a machine token made through the form, shown once, working, then revoked.
        driver.find_element(By.ID, "name").send_keys("root")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(EC.presence_of_element_located((By.ID, "switch-language")))
        driver.get(base + "/console/accounts")
        checks.expect(len(driver.find_elements(By.CSS_SELECTOR, "#accounts tbody tr")) == 2, "the accounts page lists alice and root")
        form = driver.find_element(By.ID, "create-token-form")
        form.find_element(By.NAME, "name").send_keys("whois-batch")
        form.find_element(By.NAME, "scope.read_cases").click()
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(EC.presence_of_element_located((By.ID, "issued-secret")))
        secret = driver.find_element(By.ID, "issued-secret").text
        checks.expect(secret.startswith("mamori_"), "the new token is shown")
        shot("token-created")
        checks.expect(api(http_port, "/api/v1/cases", secret) is not None, "the new token reads cases through the API")
        driver.get(base + "/console/accounts")
        checks.expect(secret not in driver.page_source, "the token is not shown again")
        row = [r for r in driver.find_elements(By.CSS_SELECTOR, "#tokens tbody tr") if "whois-batch" in r.text][0]
        row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        try:
            WebDriverWait(driver, 5).until(EC.alert_is_present())
            driver.switch_to.alert.accept()
        except (TimeoutException, NoAlertPresentException):
            checks.expect(False, "revoking a token asks for confirmation first")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "p.flash")))
        shot("accounts")
        try:
            api(http_port, "/api/v1/cases", secret)
            checks.expect(False, "a revoked token is refused")
        except urllib.error.HTTPError as e:
            checks.expect(e.code == 401, f"a revoked token is refused with 401 (got {e.code})")
    except Exception as e:
        checks.expect(False, f"the browser run stopped: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        if driver is not None:
            driver.save_screenshot(os.path.join(args.out, "failure.png"))
            print("      at " + driver.current_url + "\n" + driver.page_source[:3000], flush=True)
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)
    if checks.failures:
        print(f"{len(checks.failures)} check(s) failed", flush=True)
        return 1
    print("every check held", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
