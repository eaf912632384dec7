"""The CycleGAN trainer: alternating generator and discriminator updates of four networks.

MONAI's ``GanTrainer`` (one generator fed with latent noise, discriminator first) and ``AdversarialTrainer`` (one
paired generator/discriminator) cannot express CycleGAN's two coupled generator/discriminator pairs, hence this engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from ignite.engine import EventEnum, Events
from ignite.metrics import Metric
from monai.engines import Trainer
from monai.engines.utils import IterationEvents, default_metric_cmp_fn
from monai.utils import StrEnum
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from monai_cyclegan.engines.image_pool import ImagePool
from monai_cyclegan.engines.prepare_batch import PrepareBatchUnpaired
from monai_cyclegan.losses.adversarial import AdversarialLoss, discriminator_logits
from monai_cyclegan.losses.structure import MINDLoss

__all__ = ["CycleGANEvents", "CycleGANKeys", "CycleGANTrainer", "LOSS_KEYS", "losses_from_output", "progress_losses"]


class CycleGANKeys(StrEnum):
    """Keys of the trainer's output dictionary. A is the source contrast (T1), B the target (T2)."""

    REAL_A = "real_a"
    FAKE_B = "fake_b"
    REC_A = "rec_a"
    REAL_B = "real_b"
    FAKE_A = "fake_a"
    REC_B = "rec_b"
    G_LOSS = "loss_g"
    G_ADV_A2B = "loss_g_adv_a2b"
    G_ADV_B2A = "loss_g_adv_b2a"
    CYCLE_A = "loss_cycle_a"
    CYCLE_B = "loss_cycle_b"
    IDENTITY_A2B = "loss_identity_a2b"
    IDENTITY_B2A = "loss_identity_b2a"
    STRUCTURE_A2B = "loss_structure_a2b"
    STRUCTURE_B2A = "loss_structure_b2a"
    PRIOR_A2B = "loss_prior_a2b"
    PRIOR_B2A = "loss_prior_b2a"
    D_LOSS = "loss_d"
    D_A = "loss_d_a"
    D_B = "loss_d_b"
    SKIPPED = "skipped"


LOSS_KEYS: tuple[str, ...] = tuple(k.value for k in CycleGANKeys if k.value.startswith("loss_"))


def losses_from_output(output: dict[str, Any]) -> dict[str, float]:
    """The scalar losses of a trainer output, for stats handlers and progress bars."""
    return {k: float(output[k]) for k in LOSS_KEYS if k in output}


def progress_losses(output: dict[str, Any]) -> dict[str, float]:
    """The total generator (``G``) and discriminator (``D``) losses of a trainer output, for a progress bar.

    A phase whose update was skipped has no entry.
    """
    totals = {"G": CycleGANKeys.G_LOSS, "D": CycleGANKeys.D_LOSS}
    return {label: float(output[key]) for label, key in totals.items() if key in output}


class CycleGANEvents(EventEnum):
    """Events fired inside one CycleGAN iteration, around the generator (G) and discriminator (D) phases."""

    GENERATOR_LOSS_COMPLETED = "generator_loss_completed"
    GENERATOR_COMPLETED = "generator_completed"
    DISCRIMINATOR_LOSS_COMPLETED = "discriminator_loss_completed"
    DISCRIMINATOR_COMPLETED = "discriminator_completed"


def _set_requires_grad(networks: Iterable[nn.Module], flag: bool) -> None:
    for net in networks:
        for p in net.parameters():
            p.requires_grad_(flag)


class CycleGANTrainer(Trainer):
    """Unpaired image-to-image translation trainer (Zhu et al., ICCV 2017) on MONAI's engine.

    One iteration:

    1. **G step** with both discriminators frozen: ``fake_b = G_AB(a)``, ``rec_a = G_BA(fake_b)``, ``fake_a = G_BA(b)``,
       ``rec_b = G_AB(fake_a)``; loss = adversarial (each fake judged by the other domain's discriminator)
       + ``lambda_cycle`` * cycle L1 + ``lambda_cycle * lambda_identity`` * identity L1
       (``G_AB(b) ~ b``, ``G_BA(a) ~ a``), and optionally ``lambda_structure`` * a structure consistency between
       each translation and its input (``structure_loss(fake_b, a)``, e.g. :class:`~monai_cyclegan.losses.MINDLoss`)
       and ``lambda_prior`` * L1 to a non-learned translation of the input (``fake_b ~ prior_ab(a)``, e.g. the
       :class:`~monai_cyclegan.transforms.IntensityMapping` fitted on the unpaired training data).
       One optimizer updates both generators.
    2. **D step**: each discriminator scores real images against fakes drawn from its image pool (detached), with the
       loss halved as in CycleGAN. One optimizer updates both discriminators.

    The trainer neither logs nor saves: attach handlers for that. Output dictionary: see :class:`CycleGANKeys`.
    Fires :class:`CycleGANEvents` around both phases and ``IterationEvents.MODEL_COMPLETED`` at the end. A handler of
    a ``*_LOSS_COMPLETED`` event may call :meth:`skip_update` (e.g. on a non-finite loss) to drop the rest of the
    iteration's update.

    Args:
        device: device of the networks and data.
        max_epochs: number of epochs.
        train_data_loader: loader of dictionaries holding a domain-A and a domain-B batch.
        g_ab: generator A -> B.
        g_ba: generator B -> A.
        d_a: discriminator of domain A (judges ``fake_a``).
        d_b: discriminator of domain B (judges ``fake_b``).
        g_optimizer: optimizer over the parameters of both generators.
        d_optimizer: optimizer over the parameters of both discriminators.
        adversarial_loss: callable ``(logits, target_is_real) -> loss``; LSGAN by default.
        cycle_loss: reconstruction loss for the cycle terms; L1 by default.
        identity_loss: loss for the identity terms; L1 by default.
        lambda_cycle: weight of each cycle term (10 in CycleGAN).
        lambda_identity: identity weight as a fraction of ``lambda_cycle`` (0.5 in CycleGAN); 0 skips the identity
            forward passes altogether.
        structure_loss: callable ``(translation, input) -> loss`` comparing structures across contrasts; MIND by
            default.
        lambda_structure: weight of each structure term; 0 (the default) leaves them out.
        prior_ab: non-learned translation A -> B whose output ``fake_b`` is pulled towards (no gradient flows into
            it); required when ``lambda_prior`` > 0.
        prior_ba: the same for B -> A.
        lambda_prior: weight of each prior term (L1); 0 (the default) leaves them out.
        pool_a: pool of generated A images for ``d_a``; ``None`` feeds the latest fakes directly.
        pool_b: pool of generated B images for ``d_b``.
        epoch_length: iterations per epoch; ``len(train_data_loader)`` by default.
        non_blocking: asynchronous host-to-device copies.
        prepare_batch: callable returning ``(images_a, images_b)`` from a batch; ``PrepareBatchUnpaired()`` if None.
        iteration_update: replaces :meth:`_iteration` when given.
        postprocessing: transform applied to the output on ``MODEL_COMPLETED``.
        key_train_metric: Ignite metric attached as key metric.
        additional_metrics: more Ignite metrics.
        metric_cmp_fn: comparison of key-metric values.
        train_handlers: handlers attached at construction (each has ``attach(engine)``).
        amp: run forward passes under ``torch.autocast``; with float16, each optimizer gets its own ``GradScaler``.
        amp_kwargs: keyword arguments of ``torch.autocast`` (e.g. ``{"dtype": torch.bfloat16}``).
        event_names: additional events to register.
        event_to_attr: mapping of events to state attributes.
        decollate: decollate the output into a list per item (off: handlers read the batched dictionary).
        optim_set_to_none: ``zero_grad(set_to_none=...)``.
        to_kwargs: extra arguments of ``Tensor.to`` in ``prepare_batch``.
        flush_denormal: on a CPU device, call ``torch.set_flush_denormal(True)`` (process-wide) when the run starts.
            Freshly initialised GANs produce denormal floats that the CPU handles very slowly: 30 iterations of a
            small test model took 37.8 s without it and 0.73 s with it.
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: Iterable | DataLoader,
        g_ab: nn.Module,
        g_ba: nn.Module,
        d_a: nn.Module,
        d_b: nn.Module,
        g_optimizer: Optimizer,
        d_optimizer: Optimizer,
        adversarial_loss: Callable[[Any, bool], torch.Tensor] | None = None,
        cycle_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        identity_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        structure_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        lambda_structure: float = 0.0,
        prior_ab: Callable[[torch.Tensor], torch.Tensor] | None = None,
        prior_ba: Callable[[torch.Tensor], torch.Tensor] | None = None,
        lambda_prior: float = 0.0,
        pool_a: ImagePool | None = None,
        pool_b: ImagePool | None = None,
        epoch_length: int | None = None,
        non_blocking: bool = False,
        prepare_batch: Callable | None = None,
        iteration_update: Callable | None = None,
        postprocessing: Callable | None = None,
        key_train_metric: dict[str, Metric] | None = None,
        additional_metrics: dict[str, Metric] | None = None,
        metric_cmp_fn: Callable = default_metric_cmp_fn,
        train_handlers: Sequence | None = None,
        amp: bool = False,
        amp_kwargs: dict | None = None,
        event_names: list | None = None,
        event_to_attr: dict | None = None,
        decollate: bool = False,
        optim_set_to_none: bool = False,
        to_kwargs: dict | None = None,
        flush_denormal: bool = True,
    ) -> None:
        weights = {
            "lambda_cycle": lambda_cycle,
            "lambda_identity": lambda_identity,
            "lambda_structure": lambda_structure,
            "lambda_prior": lambda_prior,
        }
        negative = {name: value for name, value in weights.items() if value < 0}
        if negative:
            raise ValueError(f"Loss weights must be >= 0, got {negative}.")
        if lambda_prior > 0 and (prior_ab is None or prior_ba is None):
            raise ValueError("lambda_prior > 0 needs both prior_ab and prior_ba (the non-learned translations).")
        # A fresh list: Workflow appends IterationEvents to the list it receives.
        events = [CycleGANEvents] + list(event_names or [])
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            data_loader=train_data_loader,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            prepare_batch=PrepareBatchUnpaired() if prepare_batch is None else prepare_batch,
            iteration_update=iteration_update,
            postprocessing=postprocessing,
            key_metric=key_train_metric,
            additional_metrics=additional_metrics,
            metric_cmp_fn=metric_cmp_fn,
            handlers=train_handlers,
            # MONAI's Trainer.run() would create one deprecated torch.cuda.amp scaler; two are made below instead.
            amp=False,
            event_names=events,
            event_to_attr=event_to_attr,
            decollate=decollate,
            to_kwargs=to_kwargs,
            amp_kwargs=amp_kwargs,
        )
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.adversarial_loss = AdversarialLoss("lsgan") if adversarial_loss is None else adversarial_loss
        self.cycle_loss = nn.L1Loss() if cycle_loss is None else cycle_loss
        self.identity_loss = nn.L1Loss() if identity_loss is None else identity_loss
        self.lambda_cycle = lambda_cycle
        self.lambda_identity = lambda_identity
        self.structure_loss = MINDLoss() if structure_loss is None else structure_loss
        self.lambda_structure = lambda_structure
        self.prior_ab, self.prior_ba = prior_ab, prior_ba
        self.lambda_prior = lambda_prior
        self.pool_a, self.pool_b = pool_a, pool_b
        self.optim_set_to_none = optim_set_to_none
        self.use_amp = amp
        self._skip_requested = False
        device_type = self.state.device.type
        amp_dtype = self.amp_kwargs.get("dtype", torch.get_autocast_dtype(device_type))
        # Loss scaling is needed only for float16; bfloat16 has float32's range.
        scaling = amp and amp_dtype == torch.float16
        self.g_scaler = torch.amp.GradScaler(device_type, enabled=scaling)
        self.d_scaler = torch.amp.GradScaler(device_type, enabled=scaling)
        if flush_denormal and device_type == "cpu":
            self.add_event_handler(Events.STARTED, lambda _: torch.set_flush_denormal(True))

    @property
    def loss_keys(self) -> tuple[str, ...]:
        """The losses this trainer reports in its output (the terms of a zero weight are left out)."""
        left_out = set()
        if self.lambda_identity <= 0:
            left_out |= {CycleGANKeys.IDENTITY_A2B, CycleGANKeys.IDENTITY_B2A}
        if self.lambda_structure <= 0:
            left_out |= {CycleGANKeys.STRUCTURE_A2B, CycleGANKeys.STRUCTURE_B2A}
        if self.lambda_prior <= 0:
            left_out |= {CycleGANKeys.PRIOR_A2B, CycleGANKeys.PRIOR_B2A}
        return tuple(k for k in LOSS_KEYS if k not in left_out)

    def skip_update(self) -> None:
        """Drop the rest of the current iteration's update, from the phase whose loss was just computed.

        Called from a handler of ``GENERATOR_LOSS_COMPLETED`` it skips both phases' steps; from one of
        ``DISCRIMINATOR_LOSS_COMPLETED``, the discriminator step. The output then holds ``skipped=True``.
        """
        self._skip_requested = True

    def _update_skipped(self, output: dict[str, Any]) -> bool:
        """Whether a handler asked to skip the update; marks the output if so."""
        skipped, self._skip_requested = self._skip_requested, False
        if skipped:
            output[CycleGANKeys.SKIPPED] = True
        return skipped

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.state.device.type, enabled=self.use_amp, **self.amp_kwargs)

    def _iteration(self, engine: CycleGANTrainer, batchdata: dict[str, Any]) -> dict[str, torch.Tensor]:
        """One generator step and one discriminator step; returns the output dictionary (see class docstring)."""
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        real_a, real_b = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        n_a = real_a.shape[0]
        use_identity = engine.lambda_identity > 0
        output: dict[str, torch.Tensor] = {CycleGANKeys.REAL_A: real_a, CycleGANKeys.REAL_B: real_b}
        engine.state.output = output

        # --- G step: both discriminators frozen so that no gradient reaches them.
        _set_requires_grad((engine.d_a, engine.d_b), False)
        engine.g_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        with engine._autocast():
            # Each generator runs once on its translation input and its identity input together (instance norm is
            # per-sample, so batching them changes nothing but speed).
            out_ab = engine.g_ab(torch.cat([real_a, real_b]) if use_identity else real_a)
            out_ba = engine.g_ba(torch.cat([real_b, real_a]) if use_identity else real_b)
            fake_b, fake_a = out_ab[:n_a], out_ba[: real_b.shape[0]]
            rec_a = engine.g_ba(fake_b)
            rec_b = engine.g_ab(fake_a)
            losses = {
                CycleGANKeys.G_ADV_A2B: engine.adversarial_loss(engine.d_b(fake_b), True),
                CycleGANKeys.G_ADV_B2A: engine.adversarial_loss(engine.d_a(fake_a), True),
                CycleGANKeys.CYCLE_A: engine.lambda_cycle * engine.cycle_loss(rec_a, real_a),
                CycleGANKeys.CYCLE_B: engine.lambda_cycle * engine.cycle_loss(rec_b, real_b),
            }
            if use_identity:
                weight = engine.lambda_cycle * engine.lambda_identity
                losses[CycleGANKeys.IDENTITY_A2B] = weight * engine.identity_loss(out_ab[n_a:], real_b)
                losses[CycleGANKeys.IDENTITY_B2A] = weight * engine.identity_loss(out_ba[real_b.shape[0] :], real_a)
            if engine.lambda_structure > 0:
                losses[CycleGANKeys.STRUCTURE_A2B] = engine.lambda_structure * engine.structure_loss(fake_b, real_a)
                losses[CycleGANKeys.STRUCTURE_B2A] = engine.lambda_structure * engine.structure_loss(fake_a, real_b)
            if engine.lambda_prior > 0:
                with torch.no_grad():
                    prior_b, prior_a = engine.prior_ab(real_a), engine.prior_ba(real_b)
                # Type promotion against the float32 prior: float32 under bf16 autocast, float64 in a float64 run
                # (a cast to float32 here made the gradient of a float64 run inexact).
                losses[CycleGANKeys.PRIOR_A2B] = engine.lambda_prior * (fake_b - prior_b).abs().mean()
                losses[CycleGANKeys.PRIOR_B2A] = engine.lambda_prior * (fake_a - prior_a).abs().mean()
            g_loss = torch.stack([v.float() for v in losses.values()]).sum()
        output.update({k: v.detach() for k, v in losses.items()})
        output[CycleGANKeys.G_LOSS] = g_loss.detach()
        engine.fire_event(CycleGANEvents.GENERATOR_LOSS_COMPLETED)
        if engine._update_skipped(output):
            return output
        engine.g_scaler.scale(g_loss).backward()
        engine.g_scaler.step(engine.g_optimizer)
        engine.g_scaler.update()
        output.update(
            {
                CycleGANKeys.FAKE_B: fake_b.detach(),
                CycleGANKeys.REC_A: rec_a.detach(),
                CycleGANKeys.FAKE_A: fake_a.detach(),
                CycleGANKeys.REC_B: rec_b.detach(),
            }
        )
        engine.fire_event(CycleGANEvents.GENERATOR_COMPLETED)

        # --- D step on real images and pooled, detached fakes.
        _set_requires_grad((engine.d_a, engine.d_b), True)
        engine.d_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        pooled_b = fake_b.detach() if engine.pool_b is None else engine.pool_b.query(fake_b.detach())
        pooled_a = fake_a.detach() if engine.pool_a is None else engine.pool_a.query(fake_a.detach())
        with engine._autocast():
            d_b_loss = engine._discriminator_loss(engine.d_b, real_b, pooled_b)
            d_a_loss = engine._discriminator_loss(engine.d_a, real_a, pooled_a)
            d_loss = d_a_loss.float() + d_b_loss.float()
        output.update({CycleGANKeys.D_A: d_a_loss.detach(), CycleGANKeys.D_B: d_b_loss.detach()})
        output[CycleGANKeys.D_LOSS] = d_loss.detach()
        engine.fire_event(CycleGANEvents.DISCRIMINATOR_LOSS_COMPLETED)
        if engine._update_skipped(output):
            return output
        engine.d_scaler.scale(d_loss).backward()
        engine.d_scaler.step(engine.d_optimizer)
        engine.d_scaler.update()
        engine.fire_event(CycleGANEvents.DISCRIMINATOR_COMPLETED)

        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output

    def _discriminator_loss(self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        # Real and fake go through the discriminator in one batch (instance norm is per-sample).
        logits = discriminator_logits(discriminator(torch.cat([real, fake])))
        return 0.5 * (
            self.adversarial_loss(logits[: real.shape[0]], True) + self.adversarial_loss(logits[real.shape[0] :], False)
        )
