# Regenerates nltk_porter.tsv: the stems NLTK's PorterStemmer (default
# NLTK_EXTENSIONS mode, the one rouge-score uses) gives for a word list.
# Usage (Debian: apt-get install python3-nltk):
#   /usr/bin/python3 gen.py < words.txt > nltk_porter.tsv
import sys
import nltk
from nltk.stem.porter import PorterStemmer

s = PorterStemmer()
print("# nltk %s PorterStemmer(NLTK_EXTENSIONS): word<TAB>stem" % nltk.__version__)
for line in sys.stdin:
    w = line.strip()
    if w:
        print("%s\t%s" % (w, s.stem(w)))
