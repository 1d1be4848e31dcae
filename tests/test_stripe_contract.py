"""The gateway against the SDK's own schema (issue 16, item 5).

Stripe's SDK is generated for one API version (``stripe.api_version``, pinned on our client) and declares
every field of every object as a class annotation (``ExpandableField[...]`` where it can be expanded).
These tests read ``fundapp/payments/gateway.py``, ``events.py``, ``pages.py``, ``checkout.py`` and ``test_mode.py`` (the modules that read Stripe's
objects: the calls, the webhook events' own objects, the treasurer's pages' look-ups) and fail, naming the field, when it reads a field
or asks for an expansion that the SDK does not know for that version: what localstripe answers cannot
prove that (it speaks an older version), and Stripe itself is not reachable from the tests.

What is read where is derived from the code (``ast``), not listed by hand:

- every attribute chain, ``.get("key")`` and ``["key"]`` read on a variable (``charge.billing_details.email``),
  checked against the SDK class the variable holds (``OBJECTS``: by variable name, as the gateway names
  them; a name in neither ``OBJECTS`` nor ``NOT_OBJECTS`` fails, so a new read cannot slip past);
- every attribute read on the result of a client call (``api.subscriptions.retrieve(id).metadata``,
  ``_confirmed("payment_intents", id).status``), checked against the resource the SDK's service returns;
- every assignment whose type the code shows (a client call, a field of a typed object, an annotated
  parameter, a loop over a list field) against the name's class in ``OBJECTS``, so the map cannot drift
  from the code (a ``charge`` that holds a Refund fails);
- ``EXPANDS`` and every ``expand=`` the gateway sends: each path must be an ``ExpandableField``.

mypy --strict on fundapp/payments (test_mypy_strict_on_payments) is the other half: it sees every
attribute read on the typed objects the client returns, whatever the variable is called.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import stripe
from stripe._stripe_object import StripeObject

from fundapp.payments import gateway
from tests.stripe_schema import API_VERSION, has_method, name_of, resolve, service_resource

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = ROOT / "fundapp" / "payments" / "gateway.py"
EVENTS = ROOT / "fundapp" / "payments" / "events.py"
PAGES = ROOT / "fundapp" / "payments" / "pages.py"
CHECKOUT = ROOT / "fundapp" / "payments" / "checkout.py"
TEST_MODE = ROOT / "fundapp" / "payments" / "test_mode.py"

#: The SDK object each variable name holds in gateway.py (a tuple: the field must exist on each).
OBJECTS: dict[str, tuple[type, ...]] = {
    "charge": (stripe.Charge,),
    "intent": (stripe.PaymentIntent,),
    "invoice": (stripe.Invoice,),
    "invoice_payment": (stripe.InvoicePayment,),
    "p": (stripe.InvoicePayment,),  # paid_intents_of_invoice's comprehension
    "dispute": (stripe.Dispute,),
    "txn": (stripe.BalanceTransaction,),
    "payout": (stripe.Payout,),
    "refund": (stripe.Refund,),
    "method": (stripe.PaymentMethod,),
    "billing": (stripe.Charge.BillingDetails,),
    "details": (stripe.Invoice.Parent.SubscriptionDetails,),
    "customer": (stripe.Customer,),
    "product": (stripe.Product,),
    "plan": (stripe.Plan,),
    "subscription": (stripe.Subscription,),
    "session": (stripe.checkout.Session,),
    "buyer": (stripe.checkout.Session.CustomerDetails,),  # checkout_address
    # _postal: a Checkout Session's or a charge's billing address (the field must exist on both)
    "address": (stripe.checkout.Session.CustomerDetails.Address, stripe.Charge.BillingDetails.Address),
    "event": (stripe.Event,),  # a webhook body, parsed: the Event's fields
    "data": (stripe.Event.Data,),  # events.facts_of: the event's data (its object)
    "error": (stripe.PaymentIntent.LastPaymentError,),  # events._payment_failed: why the card was refused
    "obj": (stripe.Payout, stripe.Dispute),  # _listed_since("payouts" | "disputes")
    "part": (stripe.Balance.Available, stripe.Balance.Pending),  # stripe_balance_cents
}

#: Names in gateway.py that hold no Stripe object, and what they hold instead.
NOT_OBJECTS: dict[str, str] = {
    "payload": "the webhook's raw body (bytes), decoded for the signature check",
    "api": "client().v1, the SDK's services",
    "stripe_client": "a StripeClient",
    "listing": "a ListObject; its items are read under their own names (invoice_payment, p, charge, obj)",
    "refunds": "a ListObject of refunds; its items are read as `refund`",
    "balance": "stripe_balance_cents: a Balance as a dict, read by a variable key ('available' or 'pending'); "
               "its items are read as `part`",
    "value": "object_id/_metadata: any expandable field (its id) or any metadata object",
    "exc": "an exception",
    "config": "the Flask config",
    "function": "the function _stripe_errors wraps",
    "since": "a datetime",
    "completed": "checkout_address: the session of a verified event as a dict, read through a typed Session",
    "metadata": "our own metadata for Stripe (a dict we send)",
    "params": "the parameters we send",
    "price": "a price_data dict we send",
    "base": "a URL string",
    "key": "a string",
    "host": "a string",
    "currency": "a string",
    "kind": "a string",
    "version": "a string",
    "name": "a string",
    "found": "a list we build",
    "movement": "events.dispute_facts: a DisputeMovement fact (ours)",
    "dict": "the builtin (dict.fromkeys)",
    "service": "one of client().v1's services (_confirmed)",
}

#: Methods of the client's services whose result is one resource object.
SERVICE_METHODS = {"retrieve", "create", "update", "cancel", "confirm", "capture", "pay", "close"}


@dataclass
class Reads:
    """What a source reads off Stripe objects, and what the checker could not place."""

    fields: list[tuple[int, tuple[type, ...], str]] = field(default_factory=list)  # (line, classes, path)
    methods: list[tuple[int, tuple[type, ...], str, str]] = field(default_factory=list)  # (line, cls, path, method)
    expands: list[tuple[int, type, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _chain(node: ast.expr) -> tuple[ast.expr, list[str]]:
    """``a.b.c`` -> (Name a, ["b", "c"]); the root may be a call: ``f(x).b`` -> (Call, ["b"])."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.insert(0, node.attr)
        node = node.value
    return node, names


def _service_path(func: ast.expr) -> tuple[str, str] | None:
    """``client().v1.checkout.sessions.create`` / ``api.charges.retrieve`` -> ("checkout.sessions", "create")."""
    root, names = _chain(func)
    if not names:
        return None
    if "v1" in names:
        names = names[names.index("v1") + 1:]
    elif not (isinstance(root, ast.Name) and root.id == "api"):
        return None
    if len(names) < 2:
        return None
    return ".".join(names[:-1]), names[-1]


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _defined(tree: ast.Module) -> set[str]:
    """The module's own functions and classes (``_confirmed``, ``PaymentFailed``)."""
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))} | {
        target.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)}


def _annotation_classes(annotation: ast.expr | None) -> tuple[type, ...]:
    """``stripe.PaymentIntent | None`` -> (stripe.PaymentIntent,)."""
    found: list[type] = []
    nodes = list(ast.walk(annotation)) if annotation is not None else []
    inner = {id(node.value) for node in nodes if isinstance(node, ast.Attribute)}  # a.b of a.b.c is not a class
    for node in nodes:
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            root, names = _chain(node)
            if isinstance(root, ast.Name) and root.id == "stripe":
                target: object = stripe
                for name in names:
                    target = getattr(target, name)
                if isinstance(target, type) and issubclass(target, StripeObject):
                    found.append(target)
    return tuple(found)


def reads_of(source: str) -> Reads:
    """Every read of a Stripe object's field in ``source`` (a module like gateway.py)."""
    tree = ast.parse(source)
    parents = _parents(tree)
    ignored_roots = _imported(tree) | _defined(tree) | {"self", "cls"}
    returns = {node.name: _annotation_classes(node.returns) for node in tree.body if isinstance(node, ast.FunctionDef)}
    reads = Reads()

    def classes_of_name(name: str, line: int) -> tuple[type, ...] | None:
        if name in OBJECTS:
            return OBJECTS[name]
        if name in NOT_OBJECTS or name in ignored_roots:
            return None
        reads.problems.append(f"line {line}: `{name}` is read but the contract test does not know what it holds: "
                              f"add it to OBJECTS (an SDK class) or NOT_OBJECTS in tests/test_stripe_contract.py")
        return None

    def call_classes(call: ast.Call) -> tuple[type, ...] | None:
        """The resource a call returns, when the code shows it; None for a call that returns no Stripe object."""
        func = call.func
        if isinstance(func, ast.Name) and func.id == "_confirmed":
            kind = call.args[0] if call.args else None
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                return (service_resource(kind.value),)
            reads.problems.append(f"line {call.lineno}: _confirmed with a kind that is not a literal")
            return None
        if isinstance(func, ast.Name) and returns.get(func.id):
            return returns[func.id]
        service = _service_path(func)
        if service is not None and service[1] in SERVICE_METHODS:
            try:
                return (service_resource(service[0]),)
            except KeyError as exc:
                reads.problems.append(f"line {call.lineno}: {exc.args[0]}")
        return None

    def expr_classes(node: ast.expr) -> tuple[type, ...] | None:
        """The SDK classes an expression holds, when the code shows it (for checking assignments)."""
        if isinstance(node, ast.Call):
            return call_classes(node)
        root, names = _chain(node)
        if isinstance(root, ast.Name) and root.id in OBJECTS and names:
            resolutions = [resolve(cls, ".".join(names)) for cls in OBJECTS[root.id]]
            if all(r.exists and r.classes and not r.is_list for r in resolutions):
                return tuple(c for r in resolutions for c in r.classes)
        return None

    def iterated_classes(node: ast.expr) -> tuple[type, ...] | None:
        root, names = _chain(node)
        if isinstance(root, ast.Name) and root.id in OBJECTS and names:
            resolutions = [resolve(cls, ".".join(names)) for cls in OBJECTS[root.id]]
            if all(r.exists and r.is_list for r in resolutions):
                return tuple(c for r in resolutions for c in r.classes)
        return None

    def check_binding(target: ast.expr, classes: tuple[type, ...] | None, line: int, how: str) -> None:
        if not classes or not isinstance(target, ast.Name):
            return
        if classes == (StripeObject,):
            return  # any object (``_plain(obj: stripe.StripeObject ...)``): mypy lets only what every object has be read
        name = target.id
        held = ", ".join(name_of(c) for c in classes)
        if name in OBJECTS:
            wrong = [c for c in classes if not any(issubclass(c, known) for known in OBJECTS[name])]
            if wrong:
                reads.problems.append(f"line {line}: `{name}` holds {held} ({how}) but OBJECTS says "
                                      f"{', '.join(name_of(c) for c in OBJECTS[name])}")
        elif name in NOT_OBJECTS:
            reads.problems.append(f"line {line}: `{name}` holds {held} ({how}) but NOT_OBJECTS says "
                                  f"{NOT_OBJECTS[name]!r}")
        else:
            reads.problems.append(f"line {line}: `{name}` holds {held} ({how}): add it to OBJECTS")

    for node in ast.walk(tree):
        # --- what names hold: assignments, loops, annotated parameters --------------------------------
        if isinstance(node, ast.Assign):
            for target in node.targets:
                check_binding(target, expr_classes(node.value), node.lineno, "assigned")
        elif isinstance(node, (ast.For, ast.comprehension)):
            check_binding(node.target, iterated_classes(node.iter), getattr(node, "lineno", 0) or
                          getattr(node.target, "lineno", 0), "iterated")
        elif isinstance(node, ast.arg):
            check_binding(ast.Name(node.arg), _annotation_classes(node.annotation), node.lineno, "annotated")

        # --- what is read -------------------------------------------------------------------------
        elif isinstance(node, ast.Attribute) and not isinstance(parents.get(node), ast.Attribute):
            root, names = _chain(node)
            parent = parents.get(node)
            called = isinstance(parent, ast.Call) and parent.func is node
            if isinstance(root, ast.Name):
                classes = classes_of_name(root.id, node.lineno)
            elif isinstance(root, ast.Call):
                classes = call_classes(root)
            else:
                classes = None
            if not classes:
                continue
            if called:
                *path, method = names
                if method == "get" and path == [] and isinstance(parent, ast.Call) and parent.args:
                    key = parent.args[0]
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        reads.fields.append((node.lineno, classes, key.value))
                    else:
                        reads.problems.append(f"line {node.lineno}: a Stripe object read by a key that is not "
                                              f"a literal")
                    continue
                if path:
                    reads.fields.append((node.lineno, classes, ".".join(path)))
                reads.methods.append((node.lineno, classes, ".".join(path), method))
            else:
                reads.fields.append((node.lineno, classes, ".".join(names)))
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in OBJECTS:
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                reads.fields.append((node.lineno, OBJECTS[node.value.id], key.value))

        # --- what is asked to be expanded ------------------------------------------------------------
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "expand":
                    resource = call_classes(node) if _service_path(node.func) or (
                        isinstance(node.func, ast.Name) and node.func.id == "_confirmed") else None
                    sent_to = _sent_to(node)
                    for key in _expands_keys(keyword.value):
                        if key != sent_to:
                            reads.problems.append(f"line {node.lineno}: EXPANDS[{key!r}] sent to {sent_to}")
                    for path in _expand_paths(keyword.value, node.lineno, reads):
                        if resource:
                            reads.expands.append((node.lineno, resource[0], path))
                        else:
                            reads.problems.append(f"line {node.lineno}: expand={path!r} sent to a call whose "
                                                  f"resource the test cannot tell")
    return reads


def _sent_to(call: ast.Call) -> str | None:
    """The "<service>.<method>" a call is: ``_confirmed("charges", ...)`` -> "charges.retrieve"."""
    if isinstance(call.func, ast.Name) and call.func.id == "_confirmed" and call.args:
        kind = call.args[0]
        return f"{kind.value}.retrieve" if isinstance(kind, ast.Constant) else None
    service = _service_path(call.func)
    return ".".join(service) if service else None


def _expands_keys(value: ast.expr) -> list[str]:
    return [node.slice.value for node in ast.walk(value) if isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name) and node.value.id == "EXPANDS"
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)]


def _expand_paths(value: ast.expr, line: int, reads: Reads) -> list[str]:
    """``["a", "b"]`` or ``list(EXPANDS["charges.retrieve"])`` (then checked with EXPANDS itself)."""
    if isinstance(value, (ast.List, ast.Tuple)) and all(
            isinstance(item, ast.Constant) and isinstance(item.value, str) for item in value.elts):
        return [item.value for item in value.elts if isinstance(item, ast.Constant)]
    text = ast.unparse(value)
    if "EXPANDS[" in text:
        return []
    reads.problems.append(f"line {line}: expand={text} is neither a literal list nor taken from EXPANDS")
    return []


def field_problems(reads: Reads) -> list[str]:
    problems = list(reads.problems)
    for line, classes, path in reads.fields:
        for cls in classes:
            problem = resolve(cls, path).problem()
            if problem:
                problems.append(f"line {line}: {problem}")
    for line, classes, path, method in reads.methods:
        for cls in classes:
            owners = resolve(cls, path).classes if path else (cls,)
            if owners and not any(has_method(owner, method) for owner in owners):
                problems.append(f"line {line}: {name_of(cls)}{'.' + path if path else ''}.{method}() is not a "
                                f"method of the SDK's class")
    for line, cls, path in reads.expands:
        problems += [f"line {line}: {p}" for p in expand_problems(cls, [path])]
    return sorted(set(problems))


def expand_problems(cls: type, paths: list[str] | tuple[str, ...]) -> list[str]:
    problems = []
    for path in paths:
        resolution = resolve(cls, path)
        if not resolution.exists:
            problems.append(f"expand {path!r}: {resolution.problem()}")
        elif not resolution.expandable:
            problems.append(f"expand {path!r}: {name_of(cls)}.{path} is not an ExpandableField in API version "
                            f"{API_VERSION} ({resolution.steps[-1].type_text}): Stripe refuses to expand it")
    return problems


def expands_problems(expands: dict[str, tuple[str, ...]]) -> list[str]:
    """EXPANDS' keys are "<client service>.<method>" ("charges.retrieve" -> stripe.Charge)."""
    problems = []
    for key, paths in expands.items():
        service, _, method = key.rpartition(".")
        try:
            cls = service_resource(service)
        except KeyError as exc:
            problems.append(f"EXPANDS[{key!r}]: {exc.args[0]}")
            continue
        if method not in SERVICE_METHODS:
            problems.append(f"EXPANDS[{key!r}]: {method!r} is not a method that returns one {name_of(cls)}")
        problems += [f"EXPANDS[{key!r}]: {p}" for p in expand_problems(cls, paths)]
    return problems


# --- the gateway against the schema ----------------------------------------------------------------


def test_the_gateway_pins_the_sdks_version():
    assert gateway.API_VERSION == stripe.api_version == API_VERSION


def test_every_expand_path_is_an_expandable_field():
    assert gateway.EXPANDS, "the gateway expands something (the charge's balance transaction)"
    problems = expands_problems(gateway.EXPANDS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", [GATEWAY, EVENTS, PAGES, CHECKOUT, TEST_MODE],
                         ids=["gateway", "events", "pages", "checkout", "test_mode"])
def test_every_field_payments_reads_is_in_the_sdks_schema(source):
    problems = field_problems(reads_of(source.read_text()))
    assert not problems, "\n".join(problems)


def test_the_reader_finds_what_payments_reads():
    """A reader that finds nothing would pass any code: it finds the gateway's reads and the events' own."""
    reads = [reads_of(source.read_text()) for source in (GATEWAY, EVENTS, PAGES, CHECKOUT, TEST_MODE)]
    found = {(name_of(cls), path) for read in reads for _, classes, path in read.fields for cls in classes}
    for expected in [("stripe.Charge", "balance_transaction"), ("stripe.Charge.BillingDetails", "email"),
                     ("stripe.PaymentMethod", "billing_details.email"),
                     ("stripe.Invoice", "parent.subscription_details"), ("stripe.Dispute", "balance_transactions"),
                     ("stripe.InvoicePayment", "payment.payment_intent"), ("stripe.BalanceTransaction", "fee"),
                     ("stripe.Subscription", "metadata"), ("stripe.Refund", "status"),
                     ("stripe.checkout.Session", "client_reference_id"), ("stripe.checkout.Session", "payment_status"),
                     ("stripe.PaymentIntent.LastPaymentError", "message"), ("stripe.Refund", "charge"),
                     ("stripe.Event", "api_version")]:
        assert expected in found, (expected, sorted(found))


def confirmed_overload_problems(source: str) -> list[str]:
    """``_confirmed``'s overloads (``Literal["charges"]`` -> ``stripe.Charge``) are what mypy checks the
    gateway's reads against: each must return the class the SDK's service returns for that kind."""
    problems = []
    overloads = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)
                 and node.name == "_confirmed" and node.decorator_list]
    for node in overloads:
        kind_annotation = node.args.args[0].annotation
        assert isinstance(kind_annotation, ast.Subscript) and isinstance(kind_annotation.slice, ast.Constant)
        kind = kind_annotation.slice.value
        declared = _annotation_classes(node.returns)
        if declared != (service_resource(kind),):
            problems.append(f"_confirmed({kind!r}) is annotated {ast.unparse(node.returns)} but "
                            f"StripeClient().v1.{kind}.retrieve returns {name_of(service_resource(kind))}")
    return problems if overloads else ["_confirmed has no overloads: mypy would not see what it returns"]


def test_confirmed_overloads_say_what_the_sdk_returns():
    problems = confirmed_overload_problems(GATEWAY.read_text())
    assert not problems, "\n".join(problems)
    wrong = GATEWAY.read_text().replace('Literal["charges"], object_id_: str, **params: Any) -> stripe.Charge',
                                        'Literal["charges"], object_id_: str, **params: Any) -> stripe.Refund')
    assert confirmed_overload_problems(wrong) == [
        "_confirmed('charges') is annotated stripe.Refund but StripeClient().v1.charges.retrieve returns "
        "stripe.Charge"]


# --- the checker catches what it is for ----------------------------------------------------------


def test_the_schema_knows_the_pinned_shapes():
    assert resolve(stripe.Charge, "balance_transaction").expandable
    assert resolve(stripe.Invoice, "parent.subscription_details.subscription").expandable
    assert resolve(stripe.Dispute, "balance_transactions").exists
    assert resolve(stripe.Dispute, "balance_transactions").is_list
    assert not resolve(stripe.Dispute, "balance_transactions").expandable
    assert resolve(stripe.Dispute, "balance_transactions.amount").exists
    assert not resolve(stripe.Charge, "billing_details").expandable
    for gone in [(stripe.Charge, "invoice"), (stripe.PaymentIntent, "invoice"), (stripe.Invoice, "charge"),
                 (stripe.Invoice, "payment_intent"), (stripe.Invoice, "subscription")]:
        assert not resolve(*gone).exists, gone
    assert not resolve(stripe.Charge, "created.day").exists  # an int has no fields


def test_reading_charge_invoice_fails_with_its_name():
    sample = textwrap.dedent('''
        def invoice_id(charge_id: str) -> str | None:
            charge = _confirmed("charges", charge_id)
            return object_id(charge.invoice)
    ''')
    problems = field_problems(reads_of(sample))
    assert len(problems) == 1, problems
    assert f"Charge.invoice is not a field of stripe.Charge in API version {stripe.api_version}" in problems[0]


def test_reading_a_removed_field_off_a_call_result_fails():
    sample = "def f(api, invoice_id):\n    return api.invoices.retrieve(invoice_id).subscription\n"
    problems = field_problems(reads_of(sample))
    assert any("Invoice.subscription is not a field of stripe.Invoice" in p for p in problems), problems


def test_expanding_a_disputes_balance_transactions_fails():
    problems = expands_problems({**gateway.EXPANDS, "disputes.retrieve": ("balance_transactions",)})
    assert len(problems) == 1, problems
    assert "EXPANDS['disputes.retrieve']" in problems[0]
    assert "stripe.Dispute.balance_transactions is not an ExpandableField" in problems[0]
    # ... and so does sending it inline instead of through EXPANDS.
    sample = 'def f(dispute_id):\n    return _confirmed("disputes", dispute_id, expand=["balance_transactions"])\n'
    problems = field_problems(reads_of(sample))
    assert len(problems) == 1 and "Dispute.balance_transactions is not an ExpandableField" in problems[0], problems


def test_expands_sent_to_another_resource_fails():
    sample = 'def f(dispute_id):\n    return _confirmed("disputes", dispute_id, expand=list(EXPANDS["charges.retrieve"]))\n'
    problems = field_problems(reads_of(sample))
    assert problems == ["line 2: EXPANDS['charges.retrieve'] sent to disputes.retrieve"], problems


def test_an_expand_of_an_unknown_field_fails():
    problems = expands_problems({"charges.retrieve": ("balance_transaction", "invoice")})
    assert len(problems) == 1 and "stripe.Charge.invoice is not a field" in problems[0], problems


def test_a_name_the_map_does_not_know_fails():
    sample = "def f(charge_id):\n    thing = _confirmed('charges', charge_id)\n    return thing.invoice\n"
    problems = field_problems(reads_of(sample))
    assert any("`thing` holds stripe.Charge" in p for p in problems), problems
    assert any("`thing` is read but the contract test does not know" in p for p in problems), problems


def test_a_name_that_holds_another_object_than_the_map_says_fails():
    sample = "def f(refund_id):\n    charge = _confirmed('refunds', refund_id)\n    return charge.amount\n"
    problems = field_problems(reads_of(sample))
    assert any("`charge` holds stripe.Refund (assigned) but OBJECTS says stripe.Charge" in p
               for p in problems), problems


def test_dict_reads_and_loops_are_checked():
    sample = textwrap.dedent('''
        def f(dispute, refund):
            for txn in dispute.balance_transactions:
                txn.reporting_category, txn.invoice
            return refund["amount"], refund.get("charge_invoice")
    ''')
    problems = field_problems(reads_of(sample))
    assert len(problems) == 2, problems
    assert any("BalanceTransaction.invoice is not a field" in p for p in problems)
    assert any("Refund.charge_invoice is not a field" in p for p in problems)


# --- mypy --strict on fundapp/payments --------------------------------------------------------------


def test_mypy_strict_on_payments():
    """mypy --strict (pyproject.toml) on fundapp/payments: the client's typed objects (stripe.Charge ...) are the
    pinned version's schema, so a field read that the SDK does not declare is an error here too, whatever the
    variable is called. The same run checks money.py and the ledger, strict too. About 10 s from a cold cache,
    under 1 s warm (the PostgreSQL pass of make test)."""
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    payments = list((ROOT / "fundapp" / "payments").glob("*.py"))
    others = [ROOT / "fundapp" / "money.py", *(ROOT / "fundapp" / "ledger").glob("*.py")]
    assert f"no issues found in {len(payments) + len(others)} source files" in output, output
