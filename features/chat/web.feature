@chat @allure.label.epic:Multi-server_chat @allure.label.story:Web_clients
Feature: Web pages chat through a gate's HTTP interface
  As a chat user in a web browser
  I want to take part through the gate's HTTP interface
  So that a web page needs nothing more than HTTP to chat with everyone else

  A web page opens the gate's event stream to receive messages and sends its calls over HTTP,
  with the user's name and password on every call.

  Background:
    Given a chat cluster with 2 servers and 1 gate

  @critical
  Scenario: A web user and an app user talk in one room
    Given "carol" is connected to gate 1 from a web page
    And "dave" is connected to gate 1
    And "carol" has joined "Crypto"
    And "dave" has joined "Crypto"
    When "carol" says "Hello from the browser" in "Crypto"
    Then "dave" receives "Hello from the browser" from "carol" within 5 seconds
    When "dave" says "Hello from the app" in "Crypto"
    Then "carol" receives "Hello from the app" from "dave" within 5 seconds

  Scenario: A web page lists the rooms
    Given "erin" is connected to gate 1 from a web page
    When "erin" lists the chat rooms
    Then the rooms are "General, Technology, Crypto, Sports, Movies"

  Scenario: A web call with a wrong password is refused
    Given "mallory" is connected to gate 1 from a web page with the password "123456"
    When "mallory" tries to list the chat rooms
    Then the call is refused as unauthenticated with "invalid password"

  Scenario: A web call without a user name is refused
    Given someone is connected to gate 1 from a web page without a user name
    When "someone" tries to list the chat rooms
    Then the call is refused as unauthenticated with "x-username header is required"
