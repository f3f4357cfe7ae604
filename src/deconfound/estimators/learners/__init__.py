"""The learner layer: nuisance models for every family that fits one (propensity scores today; DML and
meta-learners next).

Four pieces, each usable alone:

* :mod:`.seeds` - one ``random_state`` per estimate becomes one root seed (:func:`seed_from`); every
  other seed (a repetition's splits, a nuisance's learner) is derived from it (:func:`derive_seed`);
* :mod:`.folds` - :func:`make_folds`: K shuffled folds made once and shared by every nuisance of the
  estimate; stratified when the target is binary, grouped by cluster when asked; :func:`repeated_folds`
  for repeated sample splits;
* :mod:`.presets` - :func:`make_learner`: presets by name or any scikit-learn classifier/regressor,
  validated, cloned (the user's object is never fitted) and seeded; :class:`Learner` fits clones with
  errors that name the user's argument;
* :mod:`.crossfit` - :func:`cross_fit_predict`: out-of-fold predictions (probabilities or values),
  optionally from a subset of training rows, serial or in parallel with identical numbers.

scikit-learn is imported only when a split is made or a scikit-learn preset is built.
"""

from .crossfit import cross_fit_predict, cross_fit_variants
from .folds import Folds, make_folds, repeated_folds
from .linear import LeastSquaresRegressor, LogisticClassifier
from .presets import CLASSIFIER_PRESETS, PRESETS, REGRESSOR_PRESETS, Learner, learner_name, make_learner
from .seeds import derive_seed, seed_from, seed_note

__all__ = [
    "CLASSIFIER_PRESETS",
    "PRESETS",
    "REGRESSOR_PRESETS",
    "Folds",
    "Learner",
    "LeastSquaresRegressor",
    "LogisticClassifier",
    "cross_fit_predict",
    "cross_fit_variants",
    "derive_seed",
    "learner_name",
    "make_folds",
    "make_learner",
    "repeated_folds",
    "seed_from",
    "seed_note",
]
