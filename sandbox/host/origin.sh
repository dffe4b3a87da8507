#!/usr/bin/env bash
# Creates the sandbox's git origin: a bare repository whose gh-pages branch holds a small static
# site (HTML, CSS and JS large enough for gzip to matter, a fingerprinted asset, an image, a 404
# page), and a main branch with its sources.
set -euo pipefail
origin=${1:?usage: origin.sh PATH}
[[ -d $origin ]] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git init -q --bare "$origin"
git -C "$work" init -q -b gh-pages
mkdir -p "$work/assets" "$work/docs"
{
    echo '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Do-It</title>'
    echo '<link rel="stylesheet" href="/style.css"><script src="/assets/app.3f2a1b9c.js" defer></script></head><body>'
    for i in $(seq 1 40); do echo "<section><h2>Projet $i</h2><p>Rendu du POK numéro $i, publié par la promotion.</p></section>"; done
    echo '</body></html>'
} >"$work/index.html"
echo '<!doctype html><title>Introuvable</title><h1>404: page introuvable</h1>' >"$work/404.html"
for i in $(seq 1 80); do echo ".card-$i { margin: ${i}px; padding: 0 ${i}px; color: #33$((i % 10)); }"; done >"$work/style.css"
for i in $(seq 1 80); do echo "export function widget$i(el) { el.dataset.index = '$i'; return el.querySelectorAll('.card-$i'); }"; done >"$work/assets/app.3f2a1b9c.js"
for i in $(seq 1 30); do echo "<p>Documentation, page $i.</p>"; done >"$work/docs/index.html"
head -c 4096 /dev/urandom >"$work/assets/photo.webp"
echo "initial" >"$work/version.txt"
git -C "$work" add -A
git -C "$work" -c user.email=site@selfpages.invalid -c user.name=site commit -q -m "Initial site"
git -C "$work" push -q "$origin" gh-pages
git -C "$work" checkout -q --orphan main
git -C "$work" rm -q -rf .
echo "# Site sources" >"$work/README.md"
git -C "$work" add README.md
git -C "$work" -c user.email=site@selfpages.invalid -c user.name=site commit -q -m "Sources"
git -C "$work" push -q "$origin" main
git --git-dir="$origin" symbolic-ref HEAD refs/heads/gh-pages
