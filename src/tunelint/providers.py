"""Provider profiles: each fine-tuning platform's format rules, as data.

One row per platform. The `provider-format` check reads these rows; nothing else encodes a
platform's rules. The table is documented in docs/providers.md with the source of each rule —
platforms change their limits, so a row names where its figures came from and when.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunelint.models import Role

_ALL = frozenset({Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL})


@dataclass(frozen=True)
class ProviderProfile:
    """Format rules of one fine-tuning platform.

    roles: the roles a record may use (tool results included as Role.TOOL).
    system_first_only: a system message may only open the conversation.
    first_roles: roles the first non-system message may have (None: any).
    last_roles: roles the last message may have (None: any).
    alternate: user-side (user, tool) and assistant messages must alternate.
    min_assistant: assistant messages an example needs at least.
    min_examples: examples the training file needs at least.
    max_tokens: tokens an example may hold at most (None: the model's context, see max-seq-len).
    source: where these rules are documented.
    """

    name: str
    title: str
    roles: frozenset[Role]
    system_first_only: bool
    first_roles: frozenset[Role] | None
    last_roles: frozenset[Role] | None
    alternate: bool
    min_assistant: int
    min_examples: int
    max_tokens: int | None
    source: str


PROFILES: dict[str, ProviderProfile] = {
    p.name: p
    for p in (
        ProviderProfile(
            name="openai",
            title="OpenAI supervised fine-tuning (chat)",
            roles=_ALL,
            system_first_only=False,
            first_roles=None,
            last_roles=None,
            alternate=False,
            min_assistant=1,
            min_examples=10,
            max_tokens=65_536,
            source="https://platform.openai.com/docs/guides/supervised-fine-tuning (minimum 10 examples; "
            "65,536 training tokens per example for gpt-4o-mini / gpt-4.1 family)",
        ),
        ProviderProfile(
            name="vertex",
            title="Vertex AI Gemini supervised tuning",
            roles=_ALL,
            system_first_only=True,
            first_roles=frozenset({Role.USER}),
            last_roles=frozenset({Role.ASSISTANT}),
            alternate=True,
            min_assistant=1,
            min_examples=1,
            max_tokens=131_072,
            source="https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-prepare "
            "(contents alternate user / model, system via systemInstruction; 131,072 input + output tokens "
            "per example for Gemini 2.x)",
        ),
        ProviderProfile(
            name="bedrock",
            title="Amazon Bedrock fine-tuning (Claude 3 Haiku)",
            roles=frozenset({Role.SYSTEM, Role.USER, Role.ASSISTANT}),
            system_first_only=True,
            first_roles=frozenset({Role.USER}),
            last_roles=frozenset({Role.ASSISTANT}),
            alternate=True,
            min_assistant=1,
            min_examples=32,
            max_tokens=32_000,
            source="https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html and the "
            "Claude 3 Haiku fine-tuning guide (first user, last assistant, alternating, at least two messages; "
            "32 to 10,000 records; 32,000 tokens per record)",
        ),
        ProviderProfile(
            name="together",
            title="Together AI fine-tuning (conversational)",
            roles=frozenset({Role.SYSTEM, Role.USER, Role.ASSISTANT}),
            system_first_only=True,
            first_roles=frozenset({Role.USER}),
            last_roles=None,
            alternate=True,
            min_assistant=1,
            min_examples=1,
            max_tokens=None,
            source="https://docs.together.ai/docs/fine-tuning/data-preparation (roles system, user, assistant; "
            "start with system or user, then alternate user and assistant)",
        ),
        ProviderProfile(
            name="mistral",
            title="Mistral fine-tuning API",
            roles=_ALL,
            system_first_only=False,
            first_roles=None,
            last_roles=frozenset({Role.ASSISTANT}),
            alternate=False,
            min_assistant=1,
            min_examples=1,
            max_tokens=None,
            source="https://docs.mistral.ai/capabilities/finetuning/text_finetuning (user-assistant conversations, "
            "optionally with function calls; the conversation ends with an assistant message)",
        ),
        ProviderProfile(
            name="trl",
            title="Hugging Face TRL SFTTrainer (conversational)",
            roles=_ALL,
            system_first_only=False,
            first_roles=None,
            last_roles=None,
            alternate=False,
            min_assistant=1,
            min_examples=1,
            max_tokens=1_024,
            source="https://huggingface.co/docs/trl/sft_trainer (SFTConfig.max_length defaults to 1024 and "
            "longer examples are truncated; loss on assistant tokens needs at least one assistant message)",
        ),
    )
}

ALIASES = {"gemini": "vertex", "vertex-ai": "vertex", "aws": "bedrock", "together-ai": "together", "huggingface": "trl"}


def resolve_profile(name: str) -> ProviderProfile | None:
    key = name.strip().lower()
    return PROFILES.get(ALIASES.get(key, key))


def profile_names() -> list[str]:
    return sorted([*PROFILES, *ALIASES])
