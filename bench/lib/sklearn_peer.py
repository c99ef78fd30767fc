#!/usr/bin/python3
"""scikit-learn peers of ledge's IMDB model, for bench/ml-bench.ts (issue 4).

Reads the same train/validation JSON lines ({"text", "label"}) that `ledge train` reads, fits
one model on the training file, scores the validation file and prints one JSON object on
stdout: accuracy, AUC, F1 (of the positive label) and the time of each phase, measured inside
the process (the benchmark times the whole process around it).

  /usr/bin/python3 bench/lib/sklearn_peer.py --model tfidf-lr --train T --validation V [--c 4]
  /usr/bin/python3 bench/lib/sklearn_peer.py --model nb-lr --train T --validation V [--c 4]

Models:
  tfidf-lr  TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True) +
            LogisticRegression(C, max_iter=1000) (lbfgs, the default solver)
  nb-lr     binary CountVectorizer(ngram_range=(1, 3)), the Naive-Bayes log-count ratio
            r = log((alpha + p) / |alpha + p|_1) - log((alpha + q) / |alpha + q|_1) (alpha=1;
            p, q: feature counts over positive and negative reviews), and
            LogisticRegression(C, solver="liblinear", dual=True) on X * r (NBSVM-style, Wang &
            Manning 2012, as the usual NB-LR baselines run it)

Only Debian's python3-sklearn (with numpy and scipy) is needed.
"""

import argparse
import json
import sys
import time

START = time.perf_counter()

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score  # noqa: E402

IMPORTED = time.perf_counter()


def read_jsonl(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            texts.append(record["text"])
            labels.append(record["label"])
    return texts, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tfidf-lr", "nb-lr"], required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--validation", required=True)
    parser.add_argument("--c", type=float, default=None, help="inverse regularization strength")
    parser.add_argument("--positive", default="pos", help="the positive label")
    args = parser.parse_args()

    t0 = time.perf_counter()
    train_texts, train_labels = read_jsonl(args.train)
    val_texts, val_labels = read_jsonl(args.validation)
    y_train = np.array([1 if label == args.positive else 0 for label in train_labels], dtype=np.int64)
    y_val = np.array([1 if label == args.positive else 0 for label in val_labels], dtype=np.int64)
    t_read = time.perf_counter()

    if args.model == "tfidf-lr":
        c = 4.0 if args.c is None else args.c
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        x_train = vectorizer.fit_transform(train_texts)
        t_vec = time.perf_counter()
        classifier = LogisticRegression(C=c, max_iter=1000)
        classifier.fit(x_train, y_train)
        t_fit = time.perf_counter()
        x_val = vectorizer.transform(val_texts)
        scores = classifier.predict_proba(x_val)[:, 1]
        t_pred = time.perf_counter()
        config = f"TfidfVectorizer(ngram_range=(1,2), min_df=2, sublinear_tf=True) + LogisticRegression(C={c:g}, max_iter=1000)"
    else:
        c = 4.0 if args.c is None else args.c
        alpha = 1.0
        vectorizer = CountVectorizer(ngram_range=(1, 3), binary=True)
        x_train = vectorizer.fit_transform(train_texts).tocsr().astype(np.float64)
        p = alpha + np.asarray(x_train[y_train == 1].sum(axis=0)).ravel()
        q = alpha + np.asarray(x_train[y_train == 0].sum(axis=0)).ravel()
        r = np.log(p / p.sum()) - np.log(q / q.sum())
        scale = sparse.diags(r)
        x_train_nb = x_train @ scale
        t_vec = time.perf_counter()
        classifier = LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=1000)
        classifier.fit(x_train_nb, y_train)
        t_fit = time.perf_counter()
        x_val = vectorizer.transform(val_texts).tocsr().astype(np.float64) @ scale
        scores = classifier.predict_proba(x_val)[:, 1]
        t_pred = time.perf_counter()
        config = (
            "binary CountVectorizer(ngram_range=(1,3)) * NB log-count ratio (alpha=1) + "
            f"LogisticRegression(C={c:g}, solver=liblinear, dual=True)"
        )

    predicted = (scores >= 0.5).astype(np.int64)
    result = {
        "model": args.model,
        "config": config,
        "c": c,
        "train_examples": len(train_texts),
        "validation_examples": len(val_texts),
        "features": len(vectorizer.vocabulary_),
        "accuracy": float(accuracy_score(y_val, predicted)),
        "auc": float(roc_auc_score(y_val, scores)),
        "f1": float(f1_score(y_val, predicted)),
        "seconds": {
            "import": IMPORTED - START,
            "read": t_read - t0,
            "vectorize": t_vec - t_read,
            "fit": t_fit - t_vec,
            "predict": t_pred - t_fit,
            "fit_predict": t_pred - t_read,
            "in_process": t_pred - START,
        },
        "versions": {
            "python": sys.version.split()[0],
            "sklearn": __import__("sklearn").__version__,
            "numpy": np.__version__,
            "scipy": __import__("scipy").__version__,
        },
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
