"""Each online defence's training step beside its authors' released algorithm (issue #30).

For every online defence, one optimiser step of our trainer (the registry's defence with its
default parameters, its `loss`, backward, SGD step and `after_step`, as training_loop.py runs
them) is compared with a reference step written here from the authors' released code:

    pgd_at          locuslab/robust_overfitting train_cifar.py (attack_pgd; model.train())
    fgsm_rs         locuslab/fast_adversarial CIFAR10/train_fgsm.py
    trades          yaodongyu/TRADES trades.py (trades_loss) with train_trades_cifar10.py's budget
    mart            YisenWang/MART mart.py (mart_loss) with train_wideresnet.py's budget
    fat             zjfheart/Friendly-Adversarial-Training earlystop.py and FAT.py's train
    awp (at)        csdongxian/AWP AT_AWP/train_cifar10.py and utils_awp.py (AdvWeightPerturb)
    awp (trades)    csdongxian/AWP trades_AWP/train_trades_cifar.py and utils_awp.py (TradesAWP)
    alp             Kannan et al., tensorflow/models research/adversarial_logit_pairing
                    train.py (one pass over concat(clean, adversarial), label smoothing 0.1,
                    pgdll), and xu2024's reading, MTandHJ/rcm Major/src/base.py (Coach.alp)
    sign_init_mix   no released code (xue2024): our reading, its module docstring

The references are our own code, written from reading theirs (pixel space: their
normalisation is inside our models; `.cuda()` dropped). Both sides run in float64 on a small
CNN with BatchNorm (so the mode the model is attacked in changes the examples) from the same
seeded draws; where the released code draws differently (FAT's numpy start and its noise for
the examples still iterating), the draw is patched, as each reference says. The examples, the
loss and every parameter after the step must agree to rounding (1e-9: float64 arithmetic in
another order). The negative cases swap one thing back (the crafting mode, the start, the
budget, ALP's BatchNorm pass, target or smoothing) and require the comparison to fail, so
none of these tests can pass whatever the trainer does.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robustsweep.training.defences import DEFENCES, TrainingContext

ROUNDING = 1e-9  # float64 sums in another order: ~1e-15 relative, far below this
BATCH, CLASSES, SIDE = 16, 5, 8
LR = 0.1


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny float64 steps: a second thread only adds overhead (measured: ~0.05 s of CPU per
    case with one thread, seconds of wall time with several on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def bn_net() -> nn.Module:
    """A small CNN with BatchNorm, its running statistics moved off their initial 0/1 by a
    few train-mode passes, so eval and train mode differ as in a network being trained."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, CLASSES),
    ).double()
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(BATCH, 1, SIDE, SIDE, dtype=torch.float64) * 0.8 + 0.1)
    return net


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Images with many pixels at exactly 0 and 1 (as digits and CIFAR have), where a start
    that is or is not clamped to [0, 1] differs."""
    g = torch.Generator().manual_seed(1)
    images = torch.rand(BATCH, 1, SIDE, SIDE, generator=g, dtype=torch.float64)
    images = torch.where(images < 0.3, torch.zeros_like(images), images)
    images = torch.where(images > 0.9, torch.ones_like(images), images)
    return images, torch.randint(0, CLASSES, (BATCH,), generator=g)


def optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=5e-4)


# ---------------------------------------------------------------- our trainer, one step


def our_step(spec: dict, model: nn.Module, images, targets, seed: int, epoch: int = 0):
    """(examples, loss) of one training step of the registry's defence; `model` is stepped.
    The examples are caught where the trainer's attack returns them."""
    method = DEFENCES.build(spec)
    trainer = method.build(TrainingContext(torch.device("cpu"), torch.arange(BATCH)))
    trainer.prepare(model)
    opt = optimizer(model)
    caught = []
    module = __import__(type(trainer).__module__, fromlist=["_"])
    patched = {}
    if hasattr(trainer, "attack"):
        inner = trainer.attack
        trainer.attack = lambda *a: caught.append(inner(*a)) or caught[-1]
    for name in ("early_stopped_pgd", "sign_init_attack"):  # module-level attacks
        if hasattr(module, name):
            patched[name] = getattr(module, name)
            setattr(module, name, lambda *a, _f=patched[name]: caught.append(_f(*a)) or caught[-1])
    try:
        model.train()
        trainer.start_epoch(epoch)
        torch.manual_seed(seed)  # training_loop seeds torch's global generator per epoch
        # the defence's own generator (sign_init_mix's mixing partners)
        loss, _logits, *_ = trainer.loss(model, images, targets, torch.arange(BATCH), PARTNERS())
        opt.zero_grad()
        loss.backward()
        opt.step()
        trainer.after_step(model)
    finally:
        for name, original in patched.items():
            setattr(module, name, original)
    return caught[-1], loss.detach()


# ------------------------------------------------------ references, from the released code


def clamp(x, lower, upper):
    return torch.max(torch.min(x, upper), lower)


def rice_attack_pgd(model, X, y, epsilon, alpha, attack_iters):
    """robust_overfitting attack_pgd, l_inf, one restart, no early stop; the model stays in
    the train mode the epoch put it in."""
    delta = torch.zeros_like(X).uniform_(-epsilon, epsilon)
    delta = clamp(delta, 0 - X, 1 - X)
    delta.requires_grad = True
    for _ in range(attack_iters):
        output = model(X + delta)
        loss = F.cross_entropy(output, y)
        (grad,) = torch.autograd.grad(loss, delta)
        d = torch.clamp(delta + alpha * torch.sign(grad), min=-epsilon, max=epsilon)
        d = clamp(d, 0 - X, 1 - X)
        delta = d.detach().requires_grad_(True)
    with torch.no_grad():  # the restart selection's pass (its BatchNorm update only)
        F.cross_entropy(model(X + delta), y, reduction="none")
    return delta.detach()


def reference_pgd_at(model, X, y, seed, craft_train=True, eps=8 / 255, alpha=2 / 255, steps=10):
    torch.manual_seed(seed)
    opt = optimizer(model)
    model.train(craft_train)
    delta = rice_attack_pgd(model, X, y, eps, alpha, steps)
    X_adv = torch.clamp(X + delta, 0, 1)
    model.train()
    robust_loss = F.cross_entropy(model(X_adv), y)
    opt.zero_grad()
    robust_loss.backward()
    opt.step()
    return X_adv, robust_loss.detach()


def reference_fgsm_rs(model, X, y, seed, craft_train=True, eps=8 / 255):
    """train_fgsm.py with delta_init random; alpha 10/255 there is 1.25 eps."""
    alpha = 1.25 * eps
    torch.manual_seed(seed)
    opt = optimizer(model)
    model.train(craft_train)
    # patched draw: torchattacks' FFGSM draws a normal tensor and overwrites it with the
    # uniform start; the same normal draw is burnt here so both take the same uniform one
    torch.randn_like(X)
    delta = torch.zeros_like(X)
    for j in range(X.shape[1]):  # per channel, as the script draws it (one channel here)
        delta[:, j, :, :].uniform_(-eps, eps)
    delta = clamp(delta, 0 - X, 1 - X)
    delta.requires_grad = True
    loss = F.cross_entropy(model(X + delta), y)
    (grad,) = torch.autograd.grad(loss, delta)
    delta = torch.clamp(delta + alpha * torch.sign(grad), -eps, eps)  # eps a tensor there
    delta = clamp(delta, 0 - X, 1 - X).detach()
    model.train()
    output = model(X + delta)
    loss = F.cross_entropy(output, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return X + delta, loss.detach()


def trades_perturb(model, x_natural, step_size, epsilon, perturb_steps, craft_train, clamp_start):
    """trades.py's l_inf example search (also trades_AWP's perturb_input): eval mode, start
    x + 0.001 N(0, 1) unclamped (`clamp_start` is the negative case)."""
    model.train(craft_train)
    x_adv = x_natural.detach() + 0.001 * torch.randn(x_natural.shape, dtype=x_natural.dtype)
    if clamp_start:
        x_adv = x_adv.clamp(0, 1)
    for _ in range(perturb_steps):
        x_adv.requires_grad_()
        loss_kl = F.kl_div(
            F.log_softmax(model(x_adv), dim=1),
            F.softmax(model(x_natural), dim=1),
            reduction="sum",
        )
        grad = torch.autograd.grad(loss_kl, [x_adv])[0]
        x_adv = x_adv.detach() + step_size * torch.sign(grad.detach())
        x_adv = torch.min(torch.max(x_adv, x_natural - epsilon), x_natural + epsilon)
        x_adv = torch.clamp(x_adv, 0.0, 1.0)
    return torch.clamp(x_adv, 0.0, 1.0)


def reference_trades(
    model, x, y, seed, craft_train=False, clamp_start=False, eps=0.031, step=0.007, beta=6.0
):
    torch.manual_seed(seed)
    opt = optimizer(model)
    x_adv = trades_perturb(model, x, step, eps, 10, craft_train, clamp_start)
    model.train()
    opt.zero_grad()
    logits = model(x)
    loss_natural = F.cross_entropy(logits, y)
    loss_robust = (1.0 / len(x)) * F.kl_div(
        F.log_softmax(model(x_adv), dim=1), F.softmax(model(x), dim=1), reduction="sum"
    )
    loss = loss_natural + beta * loss_robust
    loss.backward()
    opt.step()
    return x_adv, loss.detach()


def reference_mart(
    model, x, y, seed, craft_train=False, clamp_start=False, eps=0.031, step=0.007, beta=6.0
):
    torch.manual_seed(seed)
    opt = optimizer(model)
    model.train(craft_train)
    x_adv = x.detach() + 0.001 * torch.randn(x.shape, dtype=x.dtype)
    if clamp_start:
        x_adv = x_adv.clamp(0, 1)
    for _ in range(10):
        x_adv.requires_grad_()
        loss_ce = F.cross_entropy(model(x_adv), y)
        grad = torch.autograd.grad(loss_ce, [x_adv])[0]
        x_adv = x_adv.detach() + step * torch.sign(grad.detach())
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps)
        x_adv = torch.clamp(x_adv, 0.0, 1.0)
    model.train()
    x_adv = torch.clamp(x_adv, 0.0, 1.0)
    opt.zero_grad()
    logits = model(x)
    logits_adv = model(x_adv)
    adv_probs = F.softmax(logits_adv, dim=1)
    tmp1 = torch.argsort(adv_probs, dim=1)[:, -2:]
    new_y = torch.where(tmp1[:, -1] == y, tmp1[:, -2], tmp1[:, -1])
    loss_adv = F.cross_entropy(logits_adv, y) + F.nll_loss(
        torch.log(1.0001 - adv_probs + 1e-12), new_y
    )
    nat_probs = F.softmax(logits, dim=1)
    true_probs = torch.gather(nat_probs, 1, (y.unsqueeze(1)).long()).squeeze()
    kl = F.kl_div(torch.log(adv_probs + 1e-12), nat_probs, reduction="none")
    loss_robust = (1.0 / len(x)) * torch.sum(torch.sum(kl, dim=1) * (1.0000001 - true_probs))
    loss = loss_adv + float(beta) * loss_robust
    loss.backward()
    opt.step()
    return x_adv, loss.detach()


def reference_fat(model, data, target, seed, craft_train=False, eps=0.031, step=0.007, tau=0):
    """earlystop.py (loss 'cent', uniform start, omega 0.001) and FAT.py's train step. Patched
    draws: the uniform start is torch's (numpy's there) and each step's noise is drawn for the
    whole batch and indexed by the examples still iterating (drawn for those only there)."""
    omega, K = 0.001, 10
    torch.manual_seed(seed)
    opt = optimizer(model)
    model.train(craft_train)
    start = torch.empty_like(data).uniform_(-eps, eps)  # patched draw
    iter_adv = torch.clamp(data.detach() + start, 0.0, 1.0)
    control = torch.ones(len(target)) * tau
    index = torch.arange(len(target))  # original positions, to compare the examples
    iter_clean, iter_target = data.detach(), target.detach()
    out_adv, out_target, out_index = [], [], []
    while K > 0:
        iter_adv.requires_grad_()
        output = model(iter_adv)
        pred = output.max(1, keepdim=True)[1]
        output_index, iter_index = [], []
        for idx in range(len(pred)):
            if pred[idx] != iter_target[idx]:
                if control[idx] == 0:
                    output_index.append(idx)
                else:
                    control[idx] -= 1
                    iter_index.append(idx)
            else:
                iter_index.append(idx)
        if output_index:
            out_adv.append(iter_adv[output_index].detach())
            out_target.append(iter_target[output_index])
            out_index.append(index[output_index])
        loss_adv = F.cross_entropy(output, iter_target)
        grad = torch.autograd.grad(loss_adv, iter_adv)[0]
        if not iter_index:
            break
        noise = torch.randn_like(data)[index[iter_index]]  # patched draw
        control, index = control[iter_index], index[iter_index]
        iter_adv, iter_clean = iter_adv[iter_index], iter_clean[iter_index]
        iter_target, grad = iter_target[iter_index], grad[iter_index]
        iter_adv = iter_adv.detach() + step * grad.sign() + omega * noise
        iter_adv = torch.min(torch.max(iter_adv, iter_clean - eps), iter_clean + eps)
        iter_adv = torch.clamp(iter_adv, 0, 1)
        K -= 1
    else:
        out_adv.append(iter_adv.detach())
        out_target.append(iter_target)
        out_index.append(index)
    output_adv, output_target = torch.cat(out_adv), torch.cat(out_target)
    model.train()
    opt.zero_grad()
    loss = F.cross_entropy(model(output_adv), output_target)  # its order: stopped ones first
    loss.backward()
    opt.step()
    examples = torch.empty_like(data)
    examples[torch.cat(out_index)] = output_adv
    return examples, loss.detach()


def diff_in_weights(model, proxy, eps=1e-20):
    diff = {}
    for (old_k, old_w), (_new_k, new_w) in zip(
        model.state_dict().items(), proxy.state_dict().items(), strict=True
    ):
        if len(old_w.size()) <= 1:
            continue
        if "weight" in old_k:
            diff_w = new_w - old_w
            diff[old_k] = old_w.norm() / (diff_w.norm() + eps) * diff_w
    return diff


def add_into_weights(model, diff, coeff):
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in diff:
                param.add_(coeff * diff[name])


def reference_awp_at(model, X, y, seed, craft_train=True, gamma=0.01):
    """AT_AWP/train_cifar10.py, one batch of an epoch >= awp_warmup (0)."""
    torch.manual_seed(seed)
    opt = optimizer(model)
    proxy = copy.deepcopy(model)
    proxy_opt = torch.optim.SGD(proxy.parameters(), lr=0.01)
    model.train(craft_train)
    delta = rice_attack_pgd(model, X, y, 8 / 255, 2 / 255, 10)
    X_adv = torch.clamp(X + delta, 0, 1)
    model.train()
    proxy.load_state_dict(model.state_dict())  # calc_awp
    proxy.train()
    proxy_loss = -F.cross_entropy(proxy(X_adv), y)
    proxy_opt.zero_grad()
    proxy_loss.backward()
    proxy_opt.step()
    awp = diff_in_weights(model, proxy)
    add_into_weights(model, awp, gamma)
    robust_loss = F.cross_entropy(model(X_adv), y)
    opt.zero_grad()
    robust_loss.backward()
    opt.step()
    add_into_weights(model, awp, -gamma)
    with torch.no_grad():  # the train-accuracy pass (its BatchNorm update only)
        model(X)
    return X_adv, robust_loss.detach()


def reference_awp_trades(model, x, y, seed, craft_train=False, gamma=0.005, beta=6.0):
    """trades_AWP/train_trades_cifar.py, one batch of an epoch >= awp_warmup (10, from 1)."""
    torch.manual_seed(seed)
    opt = optimizer(model)
    proxy = copy.deepcopy(model)
    proxy_opt = torch.optim.SGD(proxy.parameters(), lr=LR)
    x_adv = trades_perturb(model, x, 2 / 255, 8 / 255, 10, craft_train, clamp_start=False)
    model.train()
    proxy.load_state_dict(model.state_dict())  # TradesAWP.calc_awp
    proxy.train()
    loss_natural = F.cross_entropy(proxy(x), y)
    loss_robust = F.kl_div(
        F.log_softmax(proxy(x_adv), dim=1), F.softmax(proxy(x), dim=1), reduction="batchmean"
    )
    proxy_loss = -1.0 * (loss_natural + beta * loss_robust)
    proxy_opt.zero_grad()
    proxy_loss.backward()
    proxy_opt.step()
    awp = diff_in_weights(model, proxy)
    add_into_weights(model, awp, gamma)
    opt.zero_grad()
    logits_adv = model(x_adv)
    loss_robust = F.kl_div(
        F.log_softmax(logits_adv, dim=1), F.softmax(model(x), dim=1), reduction="batchmean"
    )
    logits = model(x)
    loss = F.cross_entropy(logits, y) + beta * loss_robust
    loss.backward()
    opt.step()
    add_into_weights(model, awp, -gamma)
    return x_adv, loss.detach()


def kannan_pgd(model, x, y, eps, alpha, steps, least_likely):
    """PGD from a uniform start clipped to the image range; `pgdll` descends the
    cross-entropy of the least likely class of the clean image, `pgd` ascends the true
    class's."""
    if least_likely:
        with torch.no_grad():
            y = model(x).argmin(dim=1)
    sign = -1.0 if least_likely else 1.0
    adv = torch.clamp(x + torch.empty_like(x).uniform_(-eps, eps), 0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        grad = torch.autograd.grad(F.cross_entropy(model(adv), y), adv)[0]
        adv = adv.detach() + sign * alpha * grad.sign()
        adv = torch.clamp(torch.min(torch.max(adv, x - eps), x + eps), 0, 1)
    return adv.detach()


def reference_alp(
    model, x, y, seed, craft_train=False, joint=True, smoothing=0.1, least_likely=True
):
    """Kannan et al.'s train.py: examples from the model in eval mode, then one pass over
    concat(clean, adversarial), softmax cross-entropy with label smoothing averaged over the
    2B images, plus train_lp_weight 0.5 times the mean squared logit difference."""
    torch.manual_seed(seed)
    opt = optimizer(model)
    model.train(craft_train)
    adv = kannan_pgd(model, x, y, 8 / 255, 2 / 255, 10, least_likely)
    model.train()
    if joint:
        clean_logits, adv_logits = model(torch.cat([x, adv])).split(len(x))
    else:
        clean_logits, adv_logits = model(x), model(adv)
    logits, labels = torch.cat([clean_logits, adv_logits]), torch.cat([y, y])
    smoothed = F.one_hot(labels, CLASSES).double() * (1 - smoothing) + smoothing / CLASSES
    ce = -(smoothed * F.log_softmax(logits, dim=1)).sum(1).mean()
    loss = ce + 0.5 * ((clean_logits - adv_logits) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return adv, loss.detach()


def reference_alp_rcm(model, x, y, seed, craft_train=False):
    """rcm's Coach.alp (xu2024's code): examples from the model in eval mode (untargeted
    PGD, uniform start), then loss_nat + loss_adv + 0.5 * mse, two passes."""
    torch.manual_seed(seed)
    opt = optimizer(model)
    model.train(craft_train)
    adv = kannan_pgd(model, x, y, 8 / 255, 2 / 255, 10, least_likely=False)
    model.train()
    logits_nat, logits_adv = model(x), model(adv)
    loss = (
        F.cross_entropy(logits_nat, y)
        + F.cross_entropy(logits_adv, y)
        + 0.5 * F.mse_loss(logits_adv, logits_nat)
    )
    opt.zero_grad()
    loss.backward()
    opt.step()
    return adv, loss.detach()


def reference_sign_init_mix(model, x, y, seed, craft_train=True, eps=8 / 255, mix=1.0):
    """Our reading of xue2024 (no released code): one signed-gradient step of 1.25 eps from
    eps * sign(U(-1, 1)), crafted in train mode as fast AT's code; mixup of the examples with
    lambda ~ Beta(mix, mix) per image, partners from the defence's generator."""
    torch.manual_seed(seed)
    opt = optimizer(model)
    model.train(craft_train)
    adv = torch.clamp(x + eps * torch.empty_like(x).uniform_(-1, 1).sign(), 0, 1)
    adv.requires_grad_(True)
    grad = torch.autograd.grad(F.cross_entropy(model(adv), y), adv)[0]
    adv = adv.detach() + 1.25 * eps * grad.sign()
    adv = torch.clamp(torch.min(torch.max(adv, x - eps), x + eps), 0, 1)
    concentration = torch.full((len(x),), mix)
    lam = torch.distributions.Beta(concentration, concentration).sample().double()
    partner = torch.randperm(len(x), generator=PARTNERS())
    w = lam.view(-1, 1, 1, 1)
    model.train()
    logits = model(w * adv + (1 - w) * adv[partner])
    own = F.cross_entropy(logits, y, reduction="none")
    other = F.cross_entropy(logits, y[partner], reduction="none")
    loss = (lam * own + (1 - lam) * other).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return adv, loss.detach()


def PARTNERS() -> torch.Generator:
    return torch.Generator().manual_seed(7)


# ------------------------------------------------------------------------------ the cases

# name: (our defence spec, epoch, reference); every spec leaves the released defaults alone
CASES = {
    "pgd_at": ({"method": "pgd_at"}, 0, reference_pgd_at),
    "fgsm_rs": ({"method": "fgsm_rs"}, 0, reference_fgsm_rs),
    "trades": ({"method": "trades"}, 0, reference_trades),
    "mart": ({"method": "mart"}, 0, reference_mart),
    "fat": ({"method": "fat"}, 0, reference_fat),
    "fat_tau_2": ({"method": "fat"}, 90, lambda *a: reference_fat(*a, tau=2)),
    "awp_at": ({"method": "awp", "base": "at"}, 0, reference_awp_at),
    # the script's epoch 10 (counted from 1) is the first it perturbs: our epoch 9
    "awp_trades": ({"method": "awp", "base": "trades"}, 9, reference_awp_trades),
    "alp": ({"method": "alp"}, 0, reference_alp),
    "alp_xu2024": (
        {
            "method": "alp",
            "ce_weight": 1.0,
            "joint_batchnorm": False,
            "label_smoothing": 0.0,
            "target": "true_class",
        },
        0,
        reference_alp_rcm,
    ),
    "sign_init_mix": ({"method": "sign_init_mix"}, 0, reference_sign_init_mix),
}


def run_both(spec, epoch, reference, seed=3):
    images, targets = batch()
    ours_model, reference_model = bn_net(), bn_net()
    ours = our_step(spec, ours_model, images, targets, seed, epoch)
    theirs = reference(reference_model, images, targets, seed)
    return ours, theirs, ours_model, reference_model


def differences(ours, theirs, ours_model, reference_model) -> dict[str, float]:
    (examples, loss), (ref_examples, ref_loss) = ours, theirs
    parameters = max(
        (a - b).abs().max().item()
        for a, b in zip(ours_model.parameters(), reference_model.parameters(), strict=True)
    )
    return {
        "examples": (examples - ref_examples).abs().max().item(),
        "loss": (loss - ref_loss).abs().item(),
        "parameters": parameters,
    }


@pytest.mark.parametrize("case", list(CASES))
def test_a_training_step_is_the_released_algorithms(case):
    spec, epoch, reference = CASES[case]
    gaps = differences(*run_both(spec, epoch, reference))
    assert max(gaps.values()) < ROUNDING, gaps


# one thing swapped back on our side (or the reference's), each must break the agreement
NEGATIVE = {
    "pgd_at crafted in eval mode": ({"method": "pgd_at", "craft_mode": "eval"}, 0, "pgd_at"),
    "fgsm_rs crafted in eval mode": ({"method": "fgsm_rs", "craft_mode": "eval"}, 0, "fgsm_rs"),
    "trades crafted in train mode": ({"method": "trades", "craft_mode": "train"}, 0, "trades"),
    "trades at 8/255, step 2/255": (
        {"method": "trades", "eps": 8 / 255, "alpha": 2 / 255},
        0,
        "trades",
    ),
    "trades from a clamped start": (
        {"method": "trades"},
        0,
        lambda *a: reference_trades(*a, clamp_start=True),
    ),
    "mart crafted in train mode": ({"method": "mart", "craft_mode": "train"}, 0, "mart"),
    "mart from a clamped start": (
        {"method": "mart"},
        0,
        lambda *a: reference_mart(*a, clamp_start=True),
    ),
    "mart at 8/255": ({"method": "mart", "eps": 8 / 255}, 0, "mart"),
    "fat crafted in train mode": ({"method": "fat", "craft_mode": "train"}, 0, "fat"),
    "awp_at crafted in eval mode": (
        {"method": "awp", "base": "at", "craft_mode": "eval"},
        0,
        "awp_at",
    ),
    "awp_trades crafted in train mode": (
        {"method": "awp", "base": "trades", "craft_mode": "train"},
        9,
        "awp_trades",
    ),
    "awp_trades still warming up at the script's epoch 10": (
        {"method": "awp", "base": "trades", "warmup": 10},
        9,
        "awp_trades",
    ),
    "alp in two BatchNorm passes": ({"method": "alp", "joint_batchnorm": False}, 0, "alp"),
    "alp aimed at the true class": ({"method": "alp", "target": "true_class"}, 0, "alp"),
    "alp without label smoothing": ({"method": "alp", "label_smoothing": 0.0}, 0, "alp"),
    "alp crafted in train mode": ({"method": "alp", "craft_mode": "train"}, 0, "alp"),
    "sign_init_mix crafted in eval mode": (
        {"method": "sign_init_mix", "craft_mode": "eval"},
        0,
        "sign_init_mix",
    ),
}


@pytest.mark.parametrize("case", list(NEGATIVE))
def test_a_step_changed_back_no_longer_agrees(case):
    spec, epoch, reference = NEGATIVE[case]
    if isinstance(reference, str):
        reference = CASES[reference][2]
    gaps = differences(*run_both(spec, epoch, reference))
    # far above rounding: a changed mode, start or budget moves examples by ~1e-3 or more
    assert max(gaps.values()) > 1e-6, gaps


def test_craft_modes_and_budgets_default_to_the_released_codes():
    expected = {
        "pgd_at": ("train", 8 / 255, 2 / 255),
        "fgsm_rs": ("train", 8 / 255, 1.25 * 8 / 255),
        "trades": ("eval", 0.031, 0.007),
        "mart": ("eval", 0.031, 0.007),
        "fat": ("eval", 0.031, 0.007),
        "alp": ("eval", 8 / 255, 2 / 255),
    }
    for name, (mode, eps, alpha) in expected.items():
        method = DEFENCES.build({"method": name})
        assert (method.craft_mode, method.eps, method.alpha) == (mode, eps, alpha), name
    at = DEFENCES.build({"method": "awp", "base": "at"})
    trades = DEFENCES.build({"method": "awp", "base": "trades"})
    assert (at.craft_mode, at.warmup, trades.craft_mode, trades.warmup) == ("train", 0, "eval", 9)
    alp = DEFENCES.build({"method": "alp"})
    assert (alp.joint_batchnorm, alp.label_smoothing, alp.target) == (True, 0.1, "least_likely")
