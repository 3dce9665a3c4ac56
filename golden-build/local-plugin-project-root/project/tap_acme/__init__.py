def main():
    print("tap-acme")
