"""The Stripe SDK's typed resource classes, read as the schema of the API version it pins.

The SDK (``stripe/_charge.py``, ``_invoice.py`` ...) declares every field of every object as a class
annotation, generated for ``stripe.api_version``. ``resolve(stripe.Charge, "billing_details.email")``
walks such a dotted path step by step and says whether each step is a field and whether it is an
``ExpandableField``.

Types come from the classes' evaluated annotations (``typing.get_type_hints``, through Optional/Union,
``List[X]`` and nested ``StripeObject`` classes). ``ExpandableField[X]`` is only an alias of
``Union[str, X]`` at run time, so whether a field is expandable is read from the annotation as written
in the SDK's source (``ast`` of the class that declares it): a plain ``List[X]`` or ``X`` is not.
"""
from __future__ import annotations

import ast
import functools
import importlib
import inspect
import sys
import textwrap
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import stripe
from stripe._stripe_object import StripeObject

API_VERSION = stripe.api_version


@dataclass(frozen=True)
class Step:
    owner: type  # the class the field was looked up on
    name: str
    exists: bool
    expandable: bool = False
    classes: tuple[type, ...] = ()  # the StripeObject classes the field holds (a list's items for a list)
    is_list: bool = False
    type_text: str = ""


@dataclass(frozen=True)
class Resolution:
    root: type
    path: str
    steps: tuple[Step, ...] = field(default=())

    @property
    def exists(self) -> bool:
        return bool(self.steps) and all(step.exists for step in self.steps)

    @property
    def expandable(self) -> bool:
        return self.exists and self.steps[-1].expandable

    @property
    def classes(self) -> tuple[type, ...]:
        return self.steps[-1].classes if self.exists else ()

    @property
    def is_list(self) -> bool:
        return self.exists and self.steps[-1].is_list

    def problem(self) -> str | None:
        """Why the path is not in the schema, naming the field (None when it is)."""
        for step in self.steps:
            if not step.exists:
                return (f"{name_of(self.root)}.{self.path} is not a field of {name_of(self.root)} in API version "
                        f"{API_VERSION}: {name_of(step.owner)} has no field {step.name!r}")
        return None


def name_of(cls: type) -> str:
    """``stripe.Charge``, ``stripe.Invoice.Parent.SubscriptionDetails``, ``stripe.checkout.Session``."""
    package = cls.__module__.rsplit(".", 1)[0] if cls.__module__.count(".") > 1 else "stripe"
    return f"{package}.{cls.__qualname__}"


class _Names(Mapping[str, Any]):
    """Names an SDK annotation may use: the enclosing classes' nested classes, the module's globals, and
    the SDK's own exports (its modules import their neighbours only under TYPE_CHECKING)."""

    def __init__(self, cls: type):
        self.cls = cls

    def __getitem__(self, name: str) -> Any:
        module = sys.modules[self.cls.__module__]
        scope: Any = module
        scopes = [module]
        for part in self.cls.__qualname__.split("."):
            scope = getattr(scope, part)
            scopes.append(scope)
        for scope in reversed(scopes):
            if name in vars(scope):
                return vars(scope)[name]
        imported = _type_checking_imports(self.cls.__module__)
        if name in imported:
            module_name, original = imported[name]
            return getattr(importlib.import_module(module_name), original)
        package = importlib.import_module(self.cls.__module__.rsplit(".", 1)[0])
        for source in (package, stripe, typing):
            try:
                return getattr(source, name)
            except AttributeError:
                continue
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@functools.cache
def _type_checking_imports(module_name: str) -> dict[str, tuple[str, str]]:
    """``from stripe._card import Card as CardResource`` under ``if TYPE_CHECKING:``: the name as used in
    annotations -> (module, name)."""
    tree = ast.parse(inspect.getsource(sys.modules[module_name]))
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module, alias.name)
    return found


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    """Every annotated field of ``cls`` and its bases, evaluated (a subclass's own annotation wins)."""
    result: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        if vars(base).get("__annotations__"):
            result.update(_own_hints(base))
    return result


def _own_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` of the annotations ``cls`` declares itself (not its bases'), with names
    resolved as the SDK means them (see ``_Names``)."""
    holder = types.new_class(cls.__name__, (), {})
    holder.__annotations__ = dict(vars(cls).get("__annotations__", {}))
    holder.__module__ = cls.__module__
    return typing.get_type_hints(holder, globalns=dict(vars(sys.modules[cls.__module__])), localns=_Names(cls))


@functools.cache
def declared_as(cls: type, name: str) -> ast.expr | None:
    """The annotation of field ``name`` as written in the source of the class (in ``cls``'s MRO) that
    declares it."""
    for base in cls.__mro__:
        if name not in vars(base).get("__annotations__", {}):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(base)))
        body = tree.body[0]
        assert isinstance(body, ast.ClassDef)
        for node in body.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
                return node.annotation
        return None
    return None


def _is_expandable(annotation: ast.expr | None) -> bool:
    """``ExpandableField[X]`` (or ``Optional[ExpandableField[X]]``) as written; not ``List[...]`` of them."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Subscript):
        head = annotation.value
        head_name = head.id if isinstance(head, ast.Name) else head.attr if isinstance(head, ast.Attribute) else ""
        if head_name == "ExpandableField":
            return True
        if head_name in ("Optional", "Union"):
            inner = annotation.slice
            parts = inner.elts if isinstance(inner, ast.Tuple) else [inner]
            return any(_is_expandable(part) for part in parts)
    return False


def _classes_of(annotation: Any) -> tuple[tuple[type, ...], bool]:
    """The StripeObject classes a field holds, through Optional/Union/List; and whether it is a list."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        classes: list[type] = []
        is_list = False
        for arg in typing.get_args(annotation):
            found, listed = _classes_of(arg)
            classes += [c for c in found if c not in classes]
            is_list = is_list or listed
        return tuple(classes), is_list
    if origin in (list, list):
        return _classes_of(typing.get_args(annotation)[0])[0], True
    target = origin or annotation
    if isinstance(target, type) and issubclass(target, StripeObject):
        return (target,), False
    return (), False


def field_of(cls: type, name: str) -> Step:
    annotations = hints(cls)
    if name not in annotations:
        return Step(cls, name, exists=False)
    classes, is_list = _classes_of(annotations[name])
    return Step(cls, name, exists=True, expandable=_is_expandable(declared_as(cls, name)), classes=classes,
                is_list=is_list, type_text=str(annotations[name]))


def resolve(cls: type, path: str) -> Resolution:
    """Walk ``path`` ("parent.subscription_details.subscription") from ``cls``; stops at the first step
    that is not a field. A step past a list or an expandable field continues on its item/object class."""
    steps: list[Step] = []
    current: tuple[type, ...] = (cls,)
    for name in path.split("."):
        if not current:  # the previous step holds no StripeObject (a str, int ...): nothing to read on it
            steps.append(Step(steps[-1].owner if steps else cls, f"{steps[-1].name}.{name}", exists=False))
            break
        # A union of several objects: the field must exist on each (the code cannot know which it got).
        found = [field_of(owner, name) for owner in current]
        missing = [step for step in found if not step.exists]
        step = missing[0] if missing else found[0]
        if not missing and len(found) > 1:
            step = Step(found[0].owner, name, True, all(s.expandable for s in found),
                        tuple(c for s in found for c in s.classes), any(s.is_list for s in found))
        steps.append(step)
        if not step.exists:
            break
        current = step.classes
    return Resolution(cls, path, tuple(steps))


def has_method(cls: type, name: str) -> bool:
    return callable(getattr(cls, name, None))


@functools.cache
def service_resource(service_path: str) -> type:
    """The resource class a ``StripeClient().v1`` service returns from ``retrieve``/``create``, read from the
    SDK's own annotations: "charges" -> stripe.Charge, "checkout.sessions" -> stripe.checkout.Session."""
    v1 = importlib.import_module("stripe._v1_services")
    table: dict[str, list[str]] = v1._subservices
    service_cls: type | None = None
    for part in service_path.split("."):
        if service_cls is not None:
            module = importlib.import_module(service_cls.__module__)
            table = getattr(module, "_subservices", {})
        if part not in table:
            raise KeyError(f"StripeClient().v1.{service_path}: the SDK has no service {part!r}")
        module_name, class_name = table[part]
        service_cls = getattr(importlib.import_module(module_name), class_name)
    assert service_cls is not None
    for method in ("retrieve", "create", "list"):
        function = getattr(service_cls, method, None)
        if function is None:
            continue
        returned = function.__annotations__.get("return")
        if isinstance(returned, str):
            returned = returned.strip('"')
            if returned.startswith("ListObject["):
                returned = returned[len("ListObject["):-1].strip('"')
            resource = _Names(service_cls)[returned]
            if isinstance(resource, type) and issubclass(resource, StripeObject):
                return resource
    raise KeyError(f"StripeClient().v1.{service_path}: no resource class found on {service_cls.__name__}")
