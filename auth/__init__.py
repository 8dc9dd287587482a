"""Who is asking, with what token, and the one policy that decides what they may see."""
