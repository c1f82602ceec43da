"""Quality metrics for annotation data: agreement, Dawid-Skene and Bradley-Terry.

Plain numpy arrays in, plain values out: no storage, no Slack. Answers are parallel
integer-coded arrays (``items``, ``raters``, ``values``), one entry per answer; use
``encode_labels`` to code string labels or ids.
"""

from bot.quality.agreement import (
    MajorityResult,
    PositionBias,
    cohen_kappa_pairwise,
    encode_labels,
    fleiss_kappa,
    krippendorff_alpha,
    majority_share,
    position_bias,
)
from bot.quality.bradley_terry import (
    PREFER_A,
    PREFER_B,
    TIE,
    BradleyTerryResult,
    PreferenceConfidence,
    bradley_terry,
    preference_confidence,
)
from bot.quality.dawid_skene import DawidSkeneResult, dawid_skene

__all__ = [
    "PREFER_A",
    "PREFER_B",
    "TIE",
    "BradleyTerryResult",
    "DawidSkeneResult",
    "MajorityResult",
    "PositionBias",
    "PreferenceConfidence",
    "bradley_terry",
    "cohen_kappa_pairwise",
    "dawid_skene",
    "encode_labels",
    "fleiss_kappa",
    "krippendorff_alpha",
    "majority_share",
    "position_bias",
    "preference_confidence",
]
