"""Operations: the stack launcher and the Rasa server launcher."""
